"""The evaluation protocol that decides classifier changes: every labelled set on its own, leave-one-set-out.

Usage: .venv/bin/python -m eval.ablation [--variants all|shipped] [--json out.json] [--no-cache]

Sets (eval/datasets): `dev` (78 third-party texts), `files`, `files2`, `files3` (realistic evidence files of three
fictional companies, each written by another writer). Every item is scored with the supervised part (the example
bank) fitted without its own group: a realistic file's group is its whole set (leave one set out: nothing the
classifier learned comes from that company), a dev text's group is its source repository (as `eval run`). Ranking
figures do not depend on the calibration (monotone per document), so none is refitted here; `eval.calibrate` does
that with the same groups.

Per set: ISO 42001 primary@3 (the manifest's primary label among the top 3), hit@5 (any label in the top 5), MRR,
the same primary@3 on documents whose primary label is a clause (4-10), CSF 2.0 and NHI hit@5. The dev set has no
primary labels: its figures are hit@5 and MRR per framework. A variant is kept only if no set loses and the mean
wins (README "Classifier").

Chunks and vectors of each item are cached (~/.cache/clausewise/eval, keyed by content, embedding model and the
ingest code), so a variant costs seconds, not an embedding pass.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from classifiers.genre import GenreConfig
from classifiers.scoring import CrossConfig
from classifiers.suggest import ClassifierConfig
from eval.dataset import LABEL_KEYS, Item, load
from eval.metrics import ranking_metrics

DATASETS = Path(__file__).resolve().parent / "datasets"
SETS: dict[str, Path] = {
    "dev": DATASETS / "evidence-dev.jsonl",
    "files": DATASETS / "files" / "manifest.jsonl",
    "files2": DATASETS / "files2" / "manifest.jsonl",
    "files3": DATASETS / "files3" / "manifest.jsonl",
}
FILE_SETS = ("files", "files2", "files3")

SHIPPED = ClassifierConfig()
_DENSE = replace(SHIPPED, scoring=replace(SHIPPED.scoring, w_dense_top=0.0, w_bm25=0.0), w_examples=0.0,
                 cross=CrossConfig(0.0, 0.0, 0.0), crosswalk_views=False, genre=GenreConfig())
_TOP = replace(_DENSE, scoring=replace(_DENSE.scoring, w_dense_top=SHIPPED.scoring.w_dense_top))
_BM25 = replace(_TOP, scoring=SHIPPED.scoring)
_EXAMPLES = replace(_BM25, w_examples=SHIPPED.w_examples)
_FORM = replace(_EXAMPLES, cross=replace(_EXAMPLES.cross, w_form=SHIPPED.cross.w_form))
_PROPOSE = replace(_FORM, cross=SHIPPED.cross)
_VIEWS = replace(_PROPOSE, crosswalk_views=True)

VARIANTS: list[tuple[str, ClassifierConfig]] = [
    ("dense, best passage only", _DENSE),
    ("+ mean of the best 3 passages", _TOP),
    ("+ BM25", _BM25),
    ("+ supervised examples (kNN)", _EXAMPLES),
    ("+ evidence-form priors", _FORM),
    ("+ crosswalk proposals (CSF/NHI from ISO)", _PROPOSE),
    ("+ crosswalk-rationale views", _VIEWS),
    ("+ document genre from title lines and ticket type = shipped", SHIPPED),
    ("shipped without BM25", replace(SHIPPED, scoring=replace(SHIPPED.scoring, w_bm25=0.0))),
    ("shipped without supervised examples", replace(SHIPPED, w_examples=0.0)),
    ("shipped, genre w 0.3", replace(SHIPPED, genre=replace(SHIPPED.genre, w_genre=0.3))),
    ("shipped, genre read from the head (600 chars)", replace(SHIPPED, genre=replace(SHIPPED.genre, read="head"))),
    ("shipped, genre read from title lines + head",
     replace(SHIPPED, genre=replace(SHIPPED.genre, read="title+head"))),
    ("shipped + document-level view (head vs control views, w 0.25)",
     replace(SHIPPED, genre=replace(SHIPPED.genre, w_doc=0.25))),
    ("shipped + ISO reinforced by CSF/NHI (w 0.1)", replace(SHIPPED, cross=replace(SHIPPED.cross, w_reinforce=0.1))),
]
# The same configuration with the example bank of the dev texts only (as shipped before the realistic sets joined).
DEV_BANK_ROW = ("shipped, example bank of the dev texts only", SHIPPED, ("dev",))


def load_sets(embedder, names=tuple(SETS), *, cache: bool = True) -> dict[str, list[Item]]:
    """The labelled sets as scored items; a realistic file's group is its set (leave one set out)."""
    return {name: [it for it in load(SETS[name], embedder, cache=cache)
                   if it.expect == "suggestions" and any(it.labels.values())] for name in names}


def bank_of(items: list[Item]):
    """An example bank of these items (document vector, labels, group)."""
    from classifiers.examples import ExampleBank, document_vector

    return ExampleBank(np.vstack([document_vector(it.vectors) for it in items]).astype(np.float32),
                       [{LABEL_KEYS[k]: v for k, v in it.labels.items() if v} for it in items],
                       [it.group for it in items])


def ranked_ids(drafts, framework: str) -> list[str]:
    return [d.control_id for d in sorted((d for d in drafts if d.framework == framework), key=lambda d: d.rank)]


def is_clause(control_id: str | None) -> bool:
    return bool(control_id) and control_id.split(".")[0].isdigit()


def score_items(items: list[Item], classifier, bank=None) -> dict:
    """Rank metrics per framework key; the bank votes without each item's own group."""
    ranked = []
    for it in items:
        examples = bank.without_group(it.group) if bank is not None else None
        ranked.append(classifier.classify(it.texts, it.vectors, it.kind, examples=examples).drafts)
    out: dict = {}
    for key, fw in LABEL_KEYS.items():
        rankings, golds, primary_hits, clause_hits = [], [], [], []
        for it, drafts in zip(items, ranked):
            gold = set(it.labels.get(key) or [])
            if not gold:
                continue
            ids = ranked_ids(drafts, fw)
            rankings.append(ids)
            golds.append(gold)
            p = it.primary.get(key)
            if p:
                primary_hits.append(p in ids[:3])
                if key == "iso42001" and is_clause(p):
                    clause_hits.append(p in ids[:3])
        if not rankings:
            continue
        m = ranking_metrics(rankings, golds)
        out[key] = {"n": len(rankings), "hit@5": m.get("hit@5"), "mrr": m.get("mrr"),
                    "primary@3": round(float(np.mean(primary_hits)), 3) if primary_hits else None}
        if clause_hits:
            out[key]["clause_primary@3"] = round(float(np.mean(clause_hits)), 3)
            out[key]["clause_n"] = len(clause_hits)
    return out


def score_files(items: list[Item], config: ClassifierConfig, bank=None) -> dict:
    """Rank metrics of one set under a configuration (the shipped bank unless one is given)."""
    from catalog import load_catalog
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder

    return score_items(items, Classifier(load_catalog(), get_embedder(), config=config), bank)


def protocol(sets: dict[str, list[Item]], config: ClassifierConfig,
             bank_sets: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Every set scored with a bank of the sets' items (all, or the named ones), each item's own group left out."""
    from catalog import load_catalog
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder

    bank = bank_of([it for name, items in sets.items() if bank_sets is None or name in bank_sets for it in items])
    clf = Classifier(load_catalog(), get_embedder(), config=config, examples=bank)
    return {name: score_items(items, clf, bank) for name, items in sets.items()}


def headline(result: dict[str, dict]) -> dict[str, float | None]:
    """The figures a change is judged on, per set, and their mean."""
    row: dict[str, float | None] = {}
    for name, res in result.items():
        keys = ([("iso42001", "hit@5"), ("iso42001", "mrr"), ("nist_csf_2", "hit@5"), ("nhi", "hit@5")]
                if name == "dev" else
                [("iso42001", "primary@3"), ("iso42001", "hit@5"), ("iso42001", "mrr"),
                 ("iso42001", "clause_primary@3"), ("nist_csf_2", "hit@5"), ("nhi", "hit@5")])
        for key, metric in keys:
            row[f"{name} {key} {metric}"] = res.get(key, {}).get(metric)
    vals = [v for v in row.values() if v is not None]
    row["mean"] = round(float(np.mean(vals)), 4) if vals else None
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.ablation", description=__doc__.splitlines()[0])
    ap.add_argument("--variants", choices=("all", "shipped"), default="all")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args(argv)

    from core.embedder import get_embedder

    t0 = time.perf_counter()
    sets = load_sets(get_embedder(), cache=not args.no_cache)
    variants = [(n, c, None) for n, c in VARIANTS] + [DEV_BANK_ROW]
    if args.variants == "shipped":
        variants = [(n, c, b) for n, c, b in variants if c == SHIPPED and b is None]
    rows = []
    for name, config, bank_sets in variants:
        result = protocol(sets, config, bank_sets)
        rows.append({"variant": name, "sets": result, "headline": headline(result)})
        print(f"{name}: mean {rows[-1]['headline']['mean']}", file=sys.stderr)

    def f(x):
        return "–" if x is None else f"{x:.3f}"

    print("sets: " + ", ".join(f"{n} ({len(items)})" for n, items in sets.items())
          + "; each item scored with the example bank minus its own group (a realistic set is one group)")
    cols = list(rows[0]["headline"])
    print("| variant | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for r in rows:
        print(f"| {r['variant']} | " + " | ".join(f(r["headline"][c]) for c in cols) + " |")
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
