"""Crash consistency: a worker killed at every point between its vector write and its SQL commit.

After `clausewise reconcile`, no vector is left that no indexed document owns, and no indexed document lacks a
vector; redelivered jobs then finish exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import factories as F
import pytest
from sqlalchemy import func, select

from core.models import DEFAULT_TENANT_ID, Chunk, Document, Job

pytestmark = [pytest.mark.slow, pytest.mark.needs_model]

CHILD = Path(__file__).with_name("crash_child.py")


def _register(settings, db, blobs, n: int, tmp: Path) -> list[tuple[str, str]]:
    from ingest.intake import ingest_local_file

    out = []
    for i in range(n):
        body = f"# Access review {i}\n\n" + "\n\n".join(F.PARAS * 3) + f"\n\nRecord {i} of the quarterly review.\n"
        reg = ingest_local_file(F.write(tmp, f"review-{i}.md", body.encode()), db=db, blobs=blobs,
                                tenant_id=DEFAULT_TENANT_ID, max_bytes=settings.max_upload_bytes)
        out.append((reg.document.id, reg.job.id))
    return out


def _run_children(settings, tmp: Path, jobs: list[tuple[str, str, int]]) -> list[dict]:
    plan = tmp / f"plan-{len(jobs)}-{jobs[0][2]}.json"
    plan.write_text(json.dumps({"data_dir": str(settings.data_dir), "jobs": jobs}))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    res = subprocess.run([sys.executable, str(CHILD), str(plan)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def _expire_leases(settings) -> None:
    """What the passing of the lease time does to the leases of killed processes (nobody renewed them)."""
    from datetime import timedelta

    from sqlalchemy import update

    from core.db import Database
    from core.models import utcnow

    db = Database.from_settings(settings)
    try:
        with db.session() as s:
            s.execute(update(Job).where(Job.lease_expires_at.is_not(None))
                      .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    finally:
        db.dispose()


def _state(settings) -> tuple[set[str], dict[str, set[str]], dict[str, str]]:
    """(vector ids, chunk ids per indexed document, status per document), read with fresh clients."""
    from core.db import Database
    from core.vectors import VectorStore

    db = Database.from_settings(settings)
    try:
        with db.session() as s:
            status = dict(s.execute(select(Document.id, Document.status)).all())
            chunks: dict[str, set[str]] = {}
            for cid, doc in s.execute(select(Chunk.id, Chunk.document_id)).all():
                chunks.setdefault(doc, set()).add(cid)
    finally:
        db.dispose()
    with VectorStore(settings.resolved_chroma_url) as store:  # gives the directory up for the next child
        vectors = store.ids(DEFAULT_TENANT_ID)
    return vectors, {d: c for d, c in chunks.items() if status[d] == "indexed"}, status


def test_kill_at_every_point_then_reconcile_then_redeliver(migrated_settings, tmp_path):
    from core.blobs import BlobStore
    from core.db import Database

    settings = migrated_settings
    db = Database.from_settings(settings)
    blobs = BlobStore(settings.originals_dir)
    try:
        clean_doc, *docs = _register(settings, db, blobs, 1 + 14, tmp_path)
    finally:
        db.dispose()

    # a clean run names the events: vector write, then the commits that follow it
    clean = _run_children(settings, tmp_path, [(*clean_doc, 0)])[0]
    assert clean["signal"] == 0
    events = clean["events"]
    write_at = events.index("after_vector_write") + 1
    points = list(range(max(1, write_at - 2), len(events) + 1))  # from just before the write to the last commit
    assert len(points) >= 4 and len(points) <= len(docs), events
    runs = _run_children(settings, tmp_path, [(*docs[i], k) for i, k in enumerate(points)])
    assert [r["signal"] for r in runs] == [9] * len(points), runs
    assert [len(r["events"]) for r in runs] == points

    vectors, indexed, status = _state(settings)
    owned = set().union(*indexed.values())
    killed_after_write = [r["document_id"] for r in runs if "after_vector_write" in r["events"]
                          and status[r["document_id"]] != "indexed"]
    assert killed_after_write, "no kill landed between the vector write and the SQL commit"
    assert vectors - owned, "those kills should have left orphan vectors before reconcile"

    env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(settings.data_dir), "CLAUSEWISE_ENV": "test"}
    rep = subprocess.run([sys.executable, "-m", "api.cli", "reconcile", "--grace", "0"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-2000:]
    report = json.loads(rep.stdout.strip().splitlines()[-1])
    vectors, indexed, status = _state(settings)
    owned = set().union(*indexed.values())
    assert vectors == owned, "after reconcile every vector belongs to an indexed document and vice versa"
    assert report["orphans_deleted"] > 0

    # the killed jobs' leases expire (no one renews them) and each job is delivered again: it finishes once,
    # with the same deterministic chunk ids
    redelivered = [(d, j, 0) for (d, j), r in zip(docs, runs) if status[d] != "indexed"]
    assert redelivered
    _expire_leases(settings)
    again = _run_children(settings, tmp_path, redelivered)
    assert all(r["signal"] == 0 for r in again)
    vectors, indexed, status = _state(settings)
    assert {status[r["document_id"]] for r in runs} == {"indexed"}
    assert vectors == set().union(*indexed.values())
    db = Database.from_settings(settings)
    try:
        with db.session() as s:
            per_doc = dict(s.execute(select(Chunk.document_id, func.count()).group_by(Chunk.document_id)).all())
            counts = dict(s.execute(select(Document.id, Document.chunk_count)).all())
            attempts = dict(s.execute(select(Job.document_id, Job.attempts)).all())
    finally:
        db.dispose()
    assert {d: per_doc[d] for d in indexed} == {d: counts[d] for d in indexed}  # no duplicate chunk rows
    assert all(attempts[d] == 2 for d, _, _ in redelivered)
