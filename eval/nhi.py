"""Score the NHI inventory against a labelled inventory: precision and recall per kind, first/last seen and
credential events of the matched identities.

A labelled inventory is JSON Lines, one identity per (file, identity) — `eval/datasets/nhi/inventory.jsonl`,
written by reading the evidence, with its rules in that folder's README. Each file is read the way an upload is
(sniffed, partitioned in-process, record extractors), its sightings merged into identities as the inventory
merges them. A prediction matches a label of the same file when they share a name (canonical id or alias, case
aside); matching is one-to-one. Per kind, a match of the same kind is a true positive; a matched identity of
another kind counts against both kinds (and is reported).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from core.models import NhiSighting
from ingest.intake import inspect_file
from ingest.nhi.inventory import SIGHTING_FIELDS, merge, parse_ts, summarize
from ingest.partition import partition


def load_labels(path: Path) -> dict[str, list[dict]]:
    by_file: dict[str, list[dict]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            by_file[item["file"]].append(item)
    return dict(by_file)


def predict(path: Path) -> list[dict]:
    """The inventory items one file yields on its own."""
    _, sniffed, _ = inspect_file(path)
    part = partition(path, sniffed.media_type, sniffed.encoding)
    rows = []
    for d in part.nhi:
        row = {k: d.get(k) for k in SIGHTING_FIELDS}
        row["at"] = parse_ts(row["at"])
        row["aliases"] = list(row["aliases"] or [])
        rows.append(NhiSighting(document_id=path.name, **row))
    return [summarize("eval", i, {}, [], detail=False, rotation_days=90) for i in merge(rows)]


def _names(item: dict) -> set[str]:
    return {n.strip().lower() for n in [item["identity"], *(item.get("aliases") or [])] if n}


def _day(v: str | None) -> str | None:
    if not v:
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return v[:10]


def score(labels: dict[str, list[dict]], root: Path) -> dict:
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    kind_mismatch, seen_first, seen_last, matched = [], 0, 0, 0
    cred_found = cred_total = 0
    per_file = []
    for file, want in sorted(labels.items()):
        got = predict(root / file)
        used: set[int] = set()
        misses, extra = [], []
        for lab in want:
            names = _names(lab)
            j = next((j for j, g in enumerate(got) if j not in used and names & _names(g)), None)
            if j is None:
                fn[lab["kind"]] += 1
                misses.append(lab["identity"])
                continue
            used.add(j)
            g = got[j]
            matched += 1
            if g["kind"] == lab["kind"]:
                tp[lab["kind"]] += 1
            else:
                fn[lab["kind"]] += 1
                fp[g["kind"]] += 1
                kind_mismatch.append({"file": file, "identity": lab["identity"], "label": lab["kind"],
                                      "predicted": g["kind"]})
            seen_first += _day(g["first_seen"]) == _day(lab.get("first_seen"))
            seen_last += _day(g["last_seen"]) == _day(lab.get("last_seen"))
            have = {(c["type"], _day(c["at"])) for c in g["credential_events"]}
            for c in lab.get("credential_events") or []:
                cred_total += 1
                cred_found += (c["type"], _day(c.get("at"))) in have
        for j, g in enumerate(got):
            if j not in used:
                fp[g["kind"]] += 1
                extra.append(g["identity"])
        per_file.append({"file": file, "labelled": len(want), "predicted": len(got), "missed": misses,
                         "extra": extra})
    kinds = sorted(set(tp) | set(fp) | set(fn))
    per_kind = {}
    for k in kinds:
        p = tp[k] / (tp[k] + fp[k]) if tp[k] + fp[k] else None
        r = tp[k] / (tp[k] + fn[k]) if tp[k] + fn[k] else None
        per_kind[k] = {"precision": round(p, 3) if p is not None else None,
                       "recall": round(r, 3) if r is not None else None,
                       "tp": tp[k], "fp": fp[k], "fn": fn[k]}
    T, F, N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    return {
        "files": len(labels), "labelled": sum(len(v) for v in labels.values()),
        "precision": round(T / (T + F), 3) if T + F else None, "recall": round(T / (T + N), 3) if T + N else None,
        "per_kind": per_kind, "kind_mismatches": kind_mismatch,
        "matched": matched,
        "first_seen_same_day": round(seen_first / matched, 3) if matched else None,
        "last_seen_same_day": round(seen_last / matched, 3) if matched else None,
        "credential_events_recall": round(cred_found / cred_total, 3) if cred_total else None,
        "per_file": per_file,
    }


def evaluate(dataset: Path, root: Path | None = None) -> dict:
    """Score a labelled inventory; file paths in it are relative to `root` (default: the dataset's folder's
    parent, e.g. eval/datasets for eval/datasets/nhi/inventory.jsonl)."""
    labels = load_labels(dataset)
    return {"dataset": str(dataset), **score(labels, root or dataset.parent.parent)}
