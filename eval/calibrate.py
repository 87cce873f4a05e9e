"""Fit the shipped calibration from labelled sets and report held-out calibration error.

Usage: .venv/bin/python -m eval.calibrate DATASET.jsonl [DATASET.jsonl ...] [--examples DATASET.jsonl] [--write]
Candidates are each item's top-10 controls per labelled framework (all negatives for `no_evidence` items); the
target is "this control is a gold label".
Expected calibration error is measured on held-out groups (items from one source never calibrate themselves);
--write stores the map fitted on everything in classifiers/data/calibration.json, and the supervised part's
example bank (the --examples sets, as document vectors and labels) in classifiers/data/examples.{npy,json}.
Scores come from the classifier as shipped, with the bank never voting for an item from its own source.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def candidate_rows(classifier, items, bank=None):
    """(framework, group, scores in rank order, is-gold flags) for each item and labelled framework."""
    from eval.dataset import LABEL_KEYS

    rows = []
    for it in items:
        result = classifier.classify(it.texts, it.vectors, it.kind,
                                     examples=bank.without_group(it.group) if bank is not None else None)
        for key, fw in LABEL_KEYS.items():
            if not it.labelled(key):
                continue
            gold = set(it.labels.get(key) or [])
            ds = sorted((d for d in result.drafts if d.framework == fw), key=lambda d: d.rank)
            rows.append((fw, it.group, np.array([d.raw_score for d in ds]),
                         np.array([int(d.control_id in gold) for d in ds]), it.expect == "no_evidence"))
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--examples", type=Path, action="append", default=[],
                    help="Labelled set(s) whose items become the shipped example bank")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)

    from catalog import load_catalog
    from classifiers.calibration import CALIBRATION_FILE, Calibrator, expected_calibration_error, fit
    from classifiers.examples import EXAMPLES_DIR, ExampleBank, document_vector
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder
    from eval.dataset import LABEL_KEYS, load, sha256_file

    emb = get_embedder()
    bank_items = [it for ds in args.examples for it in load(ds, emb, progress=True, cache=True)]
    bank = ExampleBank(np.vstack([document_vector(it.vectors) for it in bank_items]) if bank_items
                       else np.zeros((0, emb.dimension), dtype=np.float32),
                       [{LABEL_KEYS[k]: v for k, v in it.labels.items() if v} for it in bank_items],
                       [it.group for it in bank_items])
    clf = Classifier(load_catalog(), emb, calibrator=Calibrator({}, {}, {}), examples=bank)
    items = [it for ds in args.datasets for it in load(ds, emb, progress=True, cache=True)]
    rows = candidate_rows(clf, items, bank)
    by_fw: dict[str, list] = defaultdict(list)
    for r in rows:
        by_fw[r[0]].append(r)
    report = {}
    for fw, rs in by_fw.items():
        groups = sorted({r[1] for r in rs})
        conf, correct = [], []
        for g in groups:  # leave one source group out
            train = [r for r in rs if r[1] != g]
            cal = fit({fw: [r[2] for r in train]}, {fw: [r[3] for r in train]}, {})
            if fw not in cal.models:
                continue
            for r in rs:
                if r[1] == g:
                    conf.extend(cal.confidence(fw, r[2]))
                    correct.extend(r[3])
        report[fw] = {"documents": len(rs), "candidates": int(sum(len(r[2]) for r in rs)),
                      "positives": int(sum(r[3].sum() for r in rs)), "groups": len(groups),
                      "ece_heldout": round(expected_calibration_error(np.array(conf), np.array(correct)), 4)}
    print(json.dumps(report, indent=1))
    if args.write:
        meta = {"datasets": {str(p.name): sha256_file(p) for p in args.datasets}, "heldout": report,
                "method": "logistic regression (Platt) on score, log rank and gap to the top score of the top-10 "
                          "candidates, per framework"}
        cal = fit({fw: [r[2] for r in rs] for fw, rs in by_fw.items()},
                  {fw: [r[3] for r in rs] for fw, rs in by_fw.items()}, meta)
        # a text that evidences nothing is never suggested outright: the threshold sits above the most confident
        # candidate any no-evidence text gets (and never below 0.5)
        thresholds = {}
        for fw, rs in by_fw.items():
            quiet = [float(cal.confidence(fw, r[2]).max()) for r in rs if r[4] and len(r[2])]
            thresholds[fw] = max(0.5, float(np.ceil(100 * (max(quiet, default=0.0) + 0.01)) / 100))
        meta["thresholds"] = "max(0.5, top confidence of any no-evidence text + 0.01), per framework"
        cal = Calibrator(cal.models, thresholds, meta)
        print(f"thresholds: {thresholds}")
        CALIBRATION_FILE.parent.mkdir(parents=True, exist_ok=True)
        CALIBRATION_FILE.write_text(json.dumps(cal.as_json(), indent=1) + "\n")
        bank.save(EXAMPLES_DIR / "examples")
        print(f"wrote {CALIBRATION_FILE} and an example bank of {len(bank)} items")
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
