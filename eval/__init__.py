"""Evaluation: labelled sets, metrics, runs, reports, calibration fitting and ablation.

May import core, catalog, ingest (to partition labelled files) and classifiers; never bench or api."""
