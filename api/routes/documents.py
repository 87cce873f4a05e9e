"""Upload evidence, follow its ingestion job, read documents and chunks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import READ, UPLOAD, PrincipalDep, RuntimeDep, TenantDep
from api.schemas import ChunkPage, DocumentOut, DocumentPage, JobOut, UploadOut, error_responses
from api.upload import receive_upload
from core.errors import ClausewiseError, ErrorCode
from core.telemetry import UPLOADS
from ingest import service
from ingest.intake import UploadSink, inspect_upload, register_upload

router = APIRouter(tags=["documents"])

UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "PDF, DOCX, XLSX, HTML, Markdown, text, EML, CSV, JSON, JSON Lines or "
                                        "a log file"},
                "title": {"type": "string"},
                "evidence_date": {"type": "string", "description": "ISO 8601 date or date-time"},
            }}}},
    },
}


def _evidence_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClausewiseError(ErrorCode.invalid_evidence_date,
                              f"evidence_date {value!r} is not an ISO 8601 date or date-time") from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


@router.post("/documents", status_code=202, openapi_extra=UPLOAD_SCHEMA, dependencies=[Depends(UPLOAD)],
             responses={202: {"model": UploadOut, "description": "Accepted: follow `job_id`"},
                        200: {"model": UploadOut,
                              "description": "Same bytes already uploaded (and not failed): `duplicate_of` names the "
                                             "document; the same bytes as a failed document start a new attempt "
                                             "(202 with `retry_of`, the failed job)"},
                        **error_responses(413, 415, 429, 503)})
async def upload_document(request: Request, rt: RuntimeDep, tenant_id: TenantDep,
                          principal: PrincipalDep) -> JSONResponse:
    """Upload one evidence file; 202 with the document and job ids, or 200 with `duplicate_of`."""
    try:
        return await _upload(request, rt, tenant_id, principal)
    except ClausewiseError as e:
        UPLOADS.labels(outcome=e.code.value).inc()
        raise


async def _upload(request: Request, rt, tenant_id: str, principal) -> JSONResponse:
    request.app.state.rate_limiter.take(principal.key_id, "upload", rt.settings.rate_uploads_per_minute)
    max_bytes = rt.settings.max_upload_bytes
    got = await receive_upload(request, lambda: UploadSink(rt.blobs, max_bytes), max_bytes,
                               max_fields=rt.settings.max_form_fields)
    sink = got.sink
    try:
        sha = sink.close()
        evidence_date = _evidence_date(got.fields.get("evidence_date"))
        title = (got.fields.get("title") or "").strip()[:500] or None

        def inspect_and_register():   # one thread-pool hop for the blocking part (sniff, SQL insert)
            safe, sniffed, claimed = inspect_upload(sink, got.filename or "")
            return safe, sniffed, register_upload(
                db=rt.db, blobs=rt.blobs, tenant_id=tenant_id, sink=sink, sha256=sha, filename=safe,
                sniffed=sniffed, claimed=claimed, title=title, evidence_date=evidence_date,
                uploaded_by=principal.key_id, to_outbox=not rt.settings.task_always_eager)

        safe, sniffed, reg = await run_in_threadpool(inspect_and_register)
    except BaseException:
        sink.discard()
        raise
    doc = reg.document
    UPLOADS.labels(outcome="duplicate" if reg.duplicate else "accepted").inc()
    if reg.duplicate:
        return JSONResponse({"duplicate_of": doc.id, "document_id": doc.id, "status": doc.status,
                             "sha256": doc.sha256}, status_code=200)
    request.app.state.dispatch.ingest(doc.id, reg.job.id)   # the job row is the outbox: a worker publishes it
    body = {"document_id": doc.id, "job_id": reg.job.id, "status": doc.status, "sha256": sha,
            "filename": safe, "detected_type": sniffed.media_type, "size_bytes": doc.size_bytes}
    if reg.retry_of:
        body["retry_of"] = reg.retry_of  # the same bytes failed before: this is a new attempt
    return JSONResponse(body, status_code=202)


@router.get("/documents", dependencies=[Depends(READ)], response_model=DocumentPage)
def list_documents(rt: RuntimeDep, tenant_id: TenantDep, page: int = Query(1, ge=1, le=1_000_000),
                   page_size: int = Query(50, ge=1, le=500),
                   status: Literal["queued", "processing", "indexed", "failed"] | None = None) -> dict:
    """A page of documents, newest first."""
    return service.list_documents(db=rt.db, tenant_id=tenant_id, page=page, page_size=page_size, status=status)


@router.get("/documents/{document_id}", dependencies=[Depends(READ)], response_model=DocumentOut)
def get_document(document_id: str, rt: RuntimeDep, tenant_id: TenantDep) -> dict:
    """A document's status, error code, chunk count, detected kind and evidence date range."""
    return service.get_document(db=rt.db, tenant_id=tenant_id, document_id=document_id)


@router.get("/documents/{document_id}/chunks", dependencies=[Depends(READ)], response_model=ChunkPage)
def list_chunks(document_id: str, rt: RuntimeDep, tenant_id: TenantDep,
                page: int = Query(1, ge=1, le=1_000_000),
                page_size: int = Query(100, ge=1, le=1000)) -> dict:
    """A document's chunks with page, record, line and character provenance."""
    return service.list_chunks(db=rt.db, tenant_id=tenant_id, document_id=document_id, page=page,
                               page_size=page_size)


@router.get("/jobs/{job_id}", dependencies=[Depends(READ)], response_model=JobOut)
def get_job(job_id: str, rt: RuntimeDep, tenant_id: TenantDep) -> dict:
    """An ingestion job: state, current stage and percentage."""
    return service.get_job(db=rt.db, tenant_id=tenant_id, job_id=job_id)
