"""The review workflow: decisions (insert-only, hash-chained in the ledger), reviewer-added mappings, the review
queue, coverage, crosswalk edge reviews, exports (CSV, JSON, OSCAL) and learning from decisions.

Consumes suggestions and never produces them. May import core, catalog, classifiers and ingest; never worker,
eval, bench or api."""
