"""What each part of the classifier earns: the same sets scored with parts switched on one at a time.

Usage: .venv/bin/python -m eval.ablation [--dev eval/datasets/evidence-dev.jsonl]
       [--files tests/fixtures/evidence/manifest.jsonl] [--json out.json]

Dev: `eval.run` per variant (cross-validated: the example bank never votes for an item from its own source; ECE
from held-out calibration folds). Files: each realistic file partitioned, chunked and embedded as ingestion does,
then scored as the service scores it (shipped example bank and calibration): ISO primary label in the top 3,
any gold label in the top 5, MRR; CSF and NHI hit@5. Variants build up from dense retrieval alone to the shipped
configuration; the last rows switch one shipped part off or a rejected one on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from classifiers.scoring import CrossConfig
from classifiers.suggest import ClassifierConfig
from eval.dataset import LABEL_KEYS, load
from eval.metrics import ranking_metrics

SHIPPED = ClassifierConfig()
_DENSE = replace(SHIPPED, scoring=replace(SHIPPED.scoring, w_dense_top=0.0, w_bm25=0.0), w_examples=0.0,
                 cross=CrossConfig(0.0, 0.0, 0.0), crosswalk_views=False)
_TOP = replace(_DENSE, scoring=replace(_DENSE.scoring, w_dense_top=SHIPPED.scoring.w_dense_top))
_BM25 = replace(_TOP, scoring=SHIPPED.scoring)
_EXAMPLES = replace(_BM25, w_examples=SHIPPED.w_examples)
_FORM = replace(_EXAMPLES, cross=replace(_EXAMPLES.cross, w_form=SHIPPED.cross.w_form))
_PROPOSE = replace(_FORM, cross=SHIPPED.cross)

VARIANTS: list[tuple[str, ClassifierConfig]] = [
    ("dense, best passage only", _DENSE),
    ("+ mean of the best 3 passages", _TOP),
    ("+ BM25", _BM25),
    ("+ supervised examples (kNN)", _EXAMPLES),
    ("+ evidence-form priors", _FORM),
    ("+ crosswalk proposals (CSF/NHI from ISO)", _PROPOSE),
    ("+ crosswalk-rationale views = shipped", SHIPPED),
    ("shipped without BM25", replace(SHIPPED, scoring=replace(SHIPPED.scoring, w_bm25=0.0))),
    ("shipped without supervised examples", replace(SHIPPED, w_examples=0.0)),
    ("shipped + ISO reinforced by CSF/NHI (w 0.1)", replace(SHIPPED, cross=replace(SHIPPED.cross, w_reinforce=0.1))),
]


def score_files(items, config: ClassifierConfig) -> dict:
    """Rank metrics on realistic files, scored the way the service scores an upload."""
    from catalog import load_catalog
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder

    clf = Classifier(load_catalog(), get_embedder(), config=config)
    out: dict = {}
    ranked = [clf.classify(it.texts, it.vectors, it.kind).drafts for it in items]
    for key, fw in LABEL_KEYS.items():
        rankings, golds, primary_hits = [], [], []
        for it, drafts in zip(items, ranked):
            gold = set(it.labels.get(key) or [])
            if not gold:
                continue
            ids = [d.control_id for d in sorted((d for d in drafts if d.framework == fw), key=lambda d: d.rank)]
            rankings.append(ids)
            golds.append(gold)
            if it.primary.get(key):
                primary_hits.append(it.primary[key] in ids[:3])
        m = ranking_metrics(rankings, golds)
        out[key] = {"n": len(rankings), "primary@3": round(float(np.mean(primary_hits)), 3) if primary_hits else None,
                    "hit@5": m.get("hit@5"), "mrr": m.get("mrr")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.ablation", description=__doc__.splitlines()[0])
    ap.add_argument("--dev", type=Path, default=Path("eval/datasets/evidence-dev.jsonl"))
    ap.add_argument("--files", type=Path, default=Path("tests/fixtures/evidence/manifest.jsonl"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from core.embedder import get_embedder
    from eval.run import run

    t0 = time.perf_counter()
    emb = get_embedder()
    dev_items = load(args.dev, emb)
    file_items = [it for it in load(args.files, emb) if it.expect == "suggestions"] if args.files.exists() else []
    rows = []
    for name, config in VARIANTS:
        dev = run(args.dev, config=config, items=dev_items)["frameworks"]
        files = score_files(file_items, config) if file_items else {}
        rows.append({"variant": name, "dev": dev, "files": files})
        print(f"{name}: done", file=sys.stderr)

    def f(x):
        return "–" if x is None else f"{x:.3f}"

    print(f"dev: {args.dev} ({len(dev_items)} items, cross-validated); files: {args.files} ({len(file_items)} files)")
    print("| variant | dev ISO hit@5 / MRR | dev CSF hit@5 / MRR | dev NHI hit@5 / MRR | dev ISO ECE "
          "| files ISO primary@3 / hit@5 / MRR | files CSF hit@5 | files NHI hit@5 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        d, fl = r["dev"], r["files"]
        iso = fl.get("iso42001", {})
        print(f"| {r['variant']} | {f(d['iso42001']['hit@5'])} / {f(d['iso42001']['mrr'])} "
              f"| {f(d['nist_csf_2']['hit@5'])} / {f(d['nist_csf_2']['mrr'])} "
              f"| {f(d['nhi']['hit@5'])} / {f(d['nhi']['mrr'])} | {f(d['iso42001'].get('ece'))} "
              f"| {f(iso.get('primary@3'))} / {f(iso.get('hit@5'))} / {f(iso.get('mrr'))} "
              f"| {f(fl.get('nist_csf_2', {}).get('hit@5'))} | {f(fl.get('nhi', {}).get('hit@5'))} |")
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
