"""Read and enqueue services for documents and jobs; the API and the CLI call these, never the tables."""

from __future__ import annotations

from sqlalchemy import func, select

from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Chunk, Document, Job
from core.scoping import tenant_document


def _iso(v):
    return v.isoformat() if v is not None else None


def job_public(job: Job) -> dict:
    return {
        "job_id": job.id, "document_id": job.document_id, "state": job.state, "stage": job.stage,
        "percent": job.percent, "attempts": job.attempts, "error_code": job.error_code,
        "error_detail": job.error_detail, "timings": job.timings or {}, "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
    }


def document_public(doc: Document, job: Job | None = None) -> dict:
    return {
        "document_id": doc.id, "status": doc.status, "error_code": doc.error_code, "error_detail": doc.error_detail,
        "filename": doc.filename, "title": doc.title, "sha256": doc.sha256, "size_bytes": doc.size_bytes,
        "detected_type": doc.detected_type, "claimed_type": doc.claimed_type, "kind": doc.kind,
        "chunk_count": doc.chunk_count, "page_count": doc.page_count, "record_count": doc.record_count,
        "evidence_date": _iso(doc.evidence_date),
        "evidence_range": {"start": _iso(doc.evidence_start), "end": _iso(doc.evidence_end)},
        "chunker_version": doc.chunker_version, "embedder_id": doc.embedder_id,
        "created_at": _iso(doc.created_at), "indexed_at": _iso(doc.indexed_at),
        "email": (doc.meta or {}).get("email"),
        "job": job_public(job) if job else None,
    }


def get_document(*, db: Database, tenant_id: str, document_id: str) -> dict:
    """One document of a tenant with its latest job."""
    with db.session() as s:
        doc = tenant_document(s, tenant_id, document_id)
        job = s.scalar(select(Job).where(Job.document_id == doc.id).order_by(Job.created_at.desc()).limit(1))
        return document_public(doc, job)


def list_documents(*, db: Database, tenant_id: str, page: int, page_size: int, status: str | None = None) -> dict:
    """A page of a tenant's documents, newest first."""
    with db.session() as s:
        q = select(Document).where(Document.tenant_id == tenant_id)
        if status:
            q = q.where(Document.status == status)
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        docs = s.scalars(q.order_by(Document.created_at.desc(), Document.id)
                         .offset((page - 1) * page_size).limit(page_size)).all()
        return {"items": [document_public(d) for d in docs], "total": total, "page": page, "page_size": page_size}


def document_kinds(*, db: Database, tenant_id: str) -> list[str]:
    """The document kinds present in a tenant (for a filter), sorted."""
    with db.session() as s:
        return sorted(k for k in s.scalars(select(Document.kind).where(Document.tenant_id == tenant_id,
                                                                       Document.kind.is_not(None)).distinct()) if k)


def get_job(*, db: Database, tenant_id: str, job_id: str) -> dict:
    with db.session() as s:
        job = s.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id))
        if job is None:
            raise ClausewiseError(ErrorCode.job_not_found, f"no job {job_id}")
        return job_public(job)


def list_chunks(*, db: Database, tenant_id: str, document_id: str, page: int, page_size: int) -> dict:
    """A document's chunks in order, with their provenance."""
    get_document(db=db, tenant_id=tenant_id, document_id=document_id)
    with db.session() as s:
        rows = s.scalars(select(Chunk).where(Chunk.document_id == document_id, Chunk.tenant_id == tenant_id)
                         .order_by(Chunk.idx).offset((page - 1) * page_size).limit(page_size)).all()
        total = s.scalar(select(func.count()).select_from(Chunk).where(Chunk.document_id == document_id))
        return {"items": [{
            "chunk_id": c.id, "idx": c.idx, "text": c.text, "char_start": c.char_start, "char_end": c.char_end,
            "page": c.page, "record_start": c.record_start, "record_end": c.record_end,
            "line_start": c.line_start, "line_end": c.line_end, "ts_start": _iso(c.ts_start),
            "ts_end": _iso(c.ts_end), "section": c.section, "kind": c.meta.get("kind") if c.meta else None,
        } for c in rows], "total": total, "page": page, "page_size": page_size}


def search_chunks(*, db: Database, vectors, embedder, tenant_id: str, query: str, k: int = 10) -> dict:
    """Semantic search over the tenant's indexed chunks (its own Chroma collection), answered from SQL rows of the
    same tenant only: a vector without a chunk row of this tenant is never shown."""
    q = query.strip()
    if not q:
        raise ClausewiseError(ErrorCode.validation_error, "q must not be empty")
    hits = vectors.query(tenant_id, embedder.embed([q[:2000]])[0], k=k)
    ids = [h["id"] for h in hits]
    with db.session() as s:
        rows = {c.id: (c, d) for c, d in s.execute(
            select(Chunk, Document).join(Document, Document.id == Chunk.document_id)
            .where(Chunk.id.in_(ids), Chunk.tenant_id == tenant_id, Document.tenant_id == tenant_id)).tuples()}
    items = []
    for h in hits:
        if h["id"] not in rows:
            continue
        c, d = rows[h["id"]]
        items.append({"chunk_id": c.id, "document_id": d.id, "filename": d.filename,
                      "score": round(1 - h["distance"], 4),
                      "text": c.text, "char_start": c.char_start, "char_end": c.char_end, "page": c.page,
                      "record_start": c.record_start, "line_start": c.line_start, "line_end": c.line_end})
    return {"query": q, "items": items}
