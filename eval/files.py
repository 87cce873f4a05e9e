"""Score a folder of realistic evidence files in-process, the way the service would answer for them.

A folder holds the files and a `manifest.jsonl` (`file`, `expect` = `suggestions` | `expect_error`, `labels` and
`primary` per framework key). Each file goes through the real intake checks (type sniffed from the bytes, the
name's claim, the OOXML caps), the real partitioners and chunker, the embedding model and the shipped classifier
(its calibration and example bank as shipped; a fresh workspace has no reviewer decisions) — no server, no
database. When the folder holds documents the shipped example bank learned from (the realistic sets in
eval/datasets), their whole set is left out of the bank first (`examples_left_out`): the figures are then
leave-one-set-out, as `python -m eval.ablation` reports them. Per framework: primary@3 (the manifest's primary
label among the top 3), hit@5 (any label in the top 5) and MRR over the files labelled for it; the same for the
files whose primary ISO label is a clause (4-10); bad files must be refused or fail with a stable code.
`clausewise eval files DIR` prints it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from eval.dataset import LABEL_KEYS
from eval.metrics import reciprocal_rank


def _chunks(path: Path) -> tuple[list[str], str | None]:
    """Intake checks, partitioning and chunking as an upload gets them; raises ClausewiseError with its code."""
    from ingest import sniff as S
    from ingest.chunking import chunk_blocks
    from ingest.partition import partition

    data = path.read_bytes()
    if not data:
        from core.errors import ClausewiseError, ErrorCode

        raise ClausewiseError(ErrorCode.empty_file, "the file is empty")
    claimed = S.claimed_type(path.name)
    sniffed = S.sniff(data[: S.SNIFF_BYTES], claimed=claimed, complete=len(data) <= S.SNIFF_BYTES)
    S.check_allowed(sniffed, claimed, path.name)
    if sniffed.media_type in (S.DOCX, S.XLSX):
        S.check_ooxml(path, sniffed.media_type)
    part = partition(path, sniffed.media_type, sniffed.encoding)
    _, chunks = chunk_blocks(part.blocks)
    return [c.text for c in chunks], part.kind


SAME_DOCUMENT = 0.999   # document vectors this close are the same document


def prepare(embedder, path: Path) -> dict:
    """One file through intake, partitioning, chunking and embedding; or the error code it was refused with."""
    from core.errors import ClausewiseError

    try:
        texts, kind = _chunks(path)
    except ClausewiseError as e:
        return {"error_code": e.code.value}
    if not texts:
        return {"error_code": "no_text"}
    return {"kind": kind, "texts": texts, "vectors": embedder.embed(texts)}


def _ranked(classifier, prepared: dict, examples=None) -> dict:
    if "error_code" in prepared:
        return prepared
    drafts = classifier.classify(prepared["texts"], prepared["vectors"], prepared["kind"], examples=examples).drafts
    return {"kind": prepared["kind"], "chunks": len(prepared["texts"]), "ranked": {
        key: [d.control_id for d in sorted((d for d in drafts if d.framework == fw), key=lambda d: d.rank)]
        for key, fw in LABEL_KEYS.items()}}


def bank_without_these(bank, doc_vectors: list):
    """The example bank minus every group that holds one of these documents: scoring a labelled set the shipped
    bank learned from is then leave-one-set-out, never the bank recalling its own answers."""
    from classifiers.examples import document_vector

    if not len(bank) or not doc_vectors:
        return bank, []
    sims = bank.vectors @ np.vstack([document_vector(v) for v in doc_vectors]).T
    groups = sorted({bank.groups[i] for i in np.where(sims.max(axis=1) >= SAME_DOCUMENT)[0] if i < len(bank.groups)})
    for g in groups:
        bank = bank.without_group(g)
    return bank, groups


def _score(rows: list[dict], key: str) -> dict:
    labelled = [r for r in rows if r["labels"].get(key)]
    scored = [r for r in labelled if "ranked" in r]
    if not labelled:
        return {"n": 0}
    with_primary = [r for r in labelled if r["primary"].get(key)]
    hits3 = sum(1 for r in with_primary if "ranked" in r and r["primary"][key] in r["ranked"][key][:3])
    hits5 = sum(1 for r in scored if set(r["labels"][key]) & set(r["ranked"][key][:5]))
    mrr = sum(reciprocal_rank(r["ranked"][key], set(r["labels"][key])) for r in scored)
    n = len(labelled)
    return {"n": n, "scored": len(scored), "primary@3": round(hits3 / len(with_primary), 3) if with_primary else None,
            "hit@5": round(hits5 / n, 3), "mrr": round(mrr / n, 3)}


def score_folder(folder: Path, *, only: set[str] | None = None, classifier=None, leave_out_known: bool = True) -> dict:
    """Score every file of a folder's manifest (or the named ones) with the shipped classifier.

    `leave_out_known=False` keeps the whole shipped example bank, exactly as the service answers an upload.
    """
    from catalog import load_catalog
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder
    from ingest.partition import use_offline_nlp

    use_offline_nlp()
    t0 = time.perf_counter()
    embedder = get_embedder()
    classifier = classifier or Classifier(load_catalog(), embedder)
    manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
    manifest = [e for e in manifest if only is None or e["file"] in only]
    prepared = [prepare(embedder, folder / e["file"]) for e in manifest]
    bank, left_out = classifier.examples, []
    if leave_out_known:
        bank, left_out = bank_without_these(bank, [p["vectors"] for p in prepared if "vectors" in p])
    rows = []
    for entry, prep in zip(manifest, prepared):
        got = _ranked(classifier, prep, bank)
        rows.append({"file": entry["file"], "expect": entry.get("expect", "suggestions"),
                     "doc_type": entry.get("doc_type"), "labels": entry.get("labels") or {},
                     "primary": entry.get("primary") or {}, **got})
    good = [r for r in rows if r["expect"] == "suggestions"]
    bad = [r for r in rows if r["expect"] != "suggestions"]
    clause = [r for r in good if (r["primary"].get("iso42001") or "A.").split(".")[0].isdigit()]
    return {
        "folder": str(folder), "classifier_version": classifier.version, "files": len(rows),
        "examples_left_out": left_out,
        "good": len(good), "good_indexed": sum(1 for r in good if "ranked" in r),
        "bad": len(bad), "bad_refused_with_code": sum(1 for r in bad if r.get("error_code")),
        "frameworks": {key: _score(good, key) for key in LABEL_KEYS},
        "iso_clause_primary": _score(clause, "iso42001"),
        "per_file": rows, "seconds": round(time.perf_counter() - t0, 1),
    }
