"""Learning from reviewers: a tenant's decided documents become examples for the supervised part.

A document with decisions becomes one example: its vector (the mean of its chunk vectors, as for any document),
the controls confirmed (or added) for it as labels, and the controls rejected for it as negative votes.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import select

from classifiers.examples import ExampleBank, document_vector
from core.db import Database
from core.models import Chunk
from review.decisions import CONFIRMED, latest_decisions


def tenant_examples(*, db: Database, vectors, tenant_id: str, exclude_document: str | None = None) -> ExampleBank:
    """The tenant's reviewer decisions as an example bank (empty when nothing was decided yet)."""
    with db.session() as s:
        latest = latest_decisions(s, tenant_id)
        pos: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        neg: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for d in latest.values():
            if d.document_id == exclude_document:
                continue  # a document never votes for itself
            (pos if d.decision in CONFIRMED else neg)[d.document_id][d.framework].add(d.control_id)
        docs = sorted(set(pos) | set(neg))
        chunk_ids = {doc: list(s.scalars(select(Chunk.id).where(Chunk.document_id == doc,
                                                                Chunk.tenant_id == tenant_id)))
                     for doc in docs}
    rows, labels, negatives, groups = [], [], [], []
    for doc in docs:
        got = vectors.embeddings(tenant_id, chunk_ids[doc]) if chunk_ids[doc] else {}
        if not got:
            continue
        rows.append(document_vector(np.stack(list(got.values()))))
        labels.append({fw: sorted(ids) for fw, ids in pos[doc].items()})
        negatives.append({fw: sorted(ids - pos[doc][fw]) for fw, ids in neg[doc].items()})
        groups.append(f"tenant-decisions:{doc}")
    if not rows:
        return ExampleBank(np.zeros((0, 384), dtype=np.float32), [], [])
    return ExampleBank(np.stack(rows).astype(np.float32), labels, groups, negatives=negatives)
