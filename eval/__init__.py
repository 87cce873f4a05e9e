"""Evaluation: labelled sets, metrics, runs, reports and benchmarks."""
