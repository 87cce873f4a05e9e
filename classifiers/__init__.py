"""Classifiers: retrieval of catalog controls, scoring, calibration and suggestions."""
