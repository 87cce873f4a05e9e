"""What every other package shares: settings, error codes, SQL models and migrations, the database, the originals
(blob) store, the vector store, the embedder, job leases, auth, telemetry.

Imports only catalog (and nothing else of ours): api, ingest, classifiers, review, worker, eval and bench build
on it (checked by import-linter, see pyproject.toml)."""
