"""Running the long jobs: recovery of jobs whose worker died, and the supervision of the processes that
`clausewise serve` starts (a Chroma server on the embedded default, a Celery worker).

May import core, ingest, classifiers, catalog; never api.
"""
