"""Find and repair disagreement between SQL (the record of what is indexed) and the vector store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import select

from core.models import Chunk, Document, DocumentStatus, Job, Tenant, utcnow
from core.runtime import Runtime
from ingest.chunking import ChunkSpec
from ingest.pipeline import vector_metadata


@dataclass
class ReconcileReport:
    tenants: int = 0
    orphan_vectors: int = 0
    orphans_deleted: int = 0
    documents_missing_vectors: list[str] = field(default_factory=list)
    vectors_restored: int = 0
    in_flight_vectors_kept: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _in_flight(rt: Runtime, grace_s: float) -> set[str]:
    """Documents a live job may be writing right now: processing, with a job started within the grace period."""
    since = utcnow() - timedelta(seconds=grace_s)
    with rt.db.session() as s:
        return set(s.scalars(select(Job.document_id).join(Document, Document.id == Job.document_id).where(
            Document.status.in_([DocumentStatus.processing.value, DocumentStatus.queued.value]),
            Job.started_at.is_not(None), Job.started_at >= since)))


def reconcile(rt: Runtime, *, dry_run: bool = False, grace_s: float | None = None) -> ReconcileReport:
    """Delete vectors no indexed document owns; re-embed chunks of indexed documents whose vectors are missing.

    Vectors of a document whose job started less than `grace_s` ago (default: the job time limit) are left
    alone: a live worker writes vectors before it commits the chunks, and may be between the two right now.
    """
    report = ReconcileReport(dry_run=dry_run)
    in_flight = _in_flight(rt, rt.settings.job_time_limit_s if grace_s is None else grace_s)
    with rt.db.session() as s:
        tenants = s.scalars(select(Tenant.id)).all()
    for tenant_id in tenants:
        report.tenants += 1
        with rt.db.session() as s:
            rows = s.execute(select(Chunk.id, Chunk.document_id).join(Document, Document.id == Chunk.document_id)
                             .where(Chunk.tenant_id == tenant_id,
                                    Document.status == DocumentStatus.indexed.value)).all()
        expected = {cid: doc for cid, doc in rows}
        present = rt.vectors.ids(tenant_id)
        orphans = sorted(present - set(expected))
        if orphans and in_flight:
            owners = rt.vectors.owners(tenant_id, orphans)
            kept = [o for o in orphans if owners.get(o) in in_flight]
            report.in_flight_vectors_kept += len(kept)
            orphans = sorted(set(orphans) - set(kept))
        report.orphan_vectors += len(orphans)
        if orphans and not dry_run:
            rt.vectors.delete(tenant_id, orphans)
            report.orphans_deleted += len(orphans)
        missing = sorted(set(expected) - present)
        docs = sorted({expected[c] for c in missing})
        report.documents_missing_vectors.extend(docs)
        if missing and not dry_run:
            report.vectors_restored += _restore(rt, tenant_id, missing)
    return report


def _restore(rt: Runtime, tenant_id: str, chunk_ids: list[str], batch: int = 256) -> int:
    """Re-embed stored chunk text and upsert it under the same deterministic ids."""
    restored = 0
    for i in range(0, len(chunk_ids), batch):
        with rt.db.session() as s:
            chunks = s.scalars(select(Chunk).where(Chunk.id.in_(chunk_ids[i:i + batch]))).all()
            docs = {d.id: d for d in s.scalars(select(Document).where(
                Document.id.in_({c.document_id for c in chunks}))).all()}
        vecs = rt.embedder.embed([c.text for c in chunks])
        metas = [vector_metadata(docs[c.document_id], ChunkSpec(
            idx=c.idx, text=c.text, char_start=c.char_start, char_end=c.char_end, kind=(c.meta or {}).get("kind", ""),
            page=c.page, record_start=c.record_start, line_start=c.line_start, line_end=c.line_end,
            ts_start=c.ts_start)) for c in chunks]
        rt.vectors.upsert(tenant_id, [c.id for c in chunks], vecs, metas)
        restored += len(chunks)
    return restored
