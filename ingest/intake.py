"""Accept an upload: stream it to disk while hashing and size-checking, sniff it, store it, register it once."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.blobs import BlobStore
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Document, DocumentStatus, Job, JobStage, new_id, utcnow
from ingest import sniff as S


class UploadSink:
    """Receives the file bytes as they arrive: hashes them, enforces the size limit, keeps a sniff sample."""

    def __init__(self, blobs: BlobStore, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.tmp: Path = blobs.temp_path(f"upload-{uuid.uuid4().hex}")
        self._fh = self.tmp.open("wb")
        self._sha = hashlib.sha256()
        self.size = 0
        self.sample = bytearray()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            self.discard()
            raise ClausewiseError(ErrorCode.file_too_large,
                                  f"file exceeds the upload limit of {self.max_bytes} bytes",
                                  limit_bytes=self.max_bytes)
        self._sha.update(data)
        if len(self.sample) < S.SNIFF_BYTES:
            self.sample += data[: S.SNIFF_BYTES - len(self.sample)]
        self._fh.write(data)

    def close(self) -> str:
        self._fh.close()
        return self._sha.hexdigest()

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)


@dataclass
class Registered:
    document: Document
    job: Job | None
    duplicate: bool
    retry_of: str | None = None  # the failed job this upload starts a new attempt after


def _retry_failed(db: Database, document_id: str, to_outbox: bool = True) -> Registered | None:
    """The same bytes as a failed document: a new job for it (its earlier jobs stay as the record). One
    conditional UPDATE decides between two such uploads racing; the loser gets the duplicate answer."""
    with db.session() as s:
        res = s.execute(update(Document).where(Document.id == document_id,
                                               Document.status == DocumentStatus.failed.value)
                        .values(status=DocumentStatus.queued.value, error_code=None, error_detail=None)
                        .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            return None
        doc = s.get(Document, document_id)
        previous = s.scalar(select(Job.id).where(Job.document_id == document_id)
                            .order_by(Job.created_at.desc()).limit(1))
        job = Job(tenant_id=doc.tenant_id, document_id=doc.id, state=DocumentStatus.queued, stage=JobStage.queued,
                  timings={}, published_at=None if to_outbox else utcnow())
        s.add(job)
        s.flush()
        s.expunge_all()
    return Registered(doc, job, False, retry_of=previous)


def inspect_upload(sink: UploadSink, filename: str) -> tuple[str, S.Sniffed, str | None]:
    """Sanitize the name, detect the type from the bytes and check it against the allowlist and the claim."""
    return inspect(bytes(sink.sample), sink.size, sink.tmp, filename)


def inspect(sample: bytes, size: int, path: Path, filename: str) -> tuple[str, S.Sniffed, str | None]:
    """inspect_upload over its parts: the first SNIFF_BYTES of the file, its size and where it is on disk."""
    safe = S.sanitize_filename(filename)
    if size == 0:
        raise ClausewiseError(ErrorCode.empty_file, "the uploaded file is empty")
    claimed = S.claimed_type(safe)
    sniffed = S.sniff(sample, claimed=claimed, complete=size <= len(sample))
    S.check_allowed(sniffed, claimed, safe)
    if sniffed.media_type in (S.DOCX, S.XLSX):
        S.check_ooxml(path, sniffed.media_type)
    return safe, sniffed, claimed


def inspect_file(path: Path, filename: str | None = None) -> tuple[str, S.Sniffed, str | None]:
    """inspect_upload for a file already on disk (the fuzz tests and tools): the same checks on the same bytes."""
    with path.open("rb") as fh:
        sample = fh.read(S.SNIFF_BYTES)
    return inspect(sample, path.stat().st_size, path, filename if filename is not None else path.name)


def register_upload(
    *, db: Database, blobs: BlobStore, tenant_id: str, sink: UploadSink, sha256: str, filename: str,
    sniffed: S.Sniffed, claimed: str | None, title: str | None, evidence_date: datetime | None,
    uploaded_by: str | None = None, to_outbox: bool = True,
) -> Registered:
    """Store the original content-addressed and create the Document and its Job, once per tenant and sha256.

    With `to_outbox` the job is committed unpublished and a worker's dispatcher hands it to the broker
    (worker/outbox.py); without, the caller runs the job itself (the CLI's bulk ingest, task_always_eager)."""
    with db.engine.connect() as conn:   # one connection for the lookup and the insert (Core: no session)
        existing = _find(conn, tenant_id, sha256)
        if existing is None:
            try:
                return _insert(conn, db, blobs, tenant_id=tenant_id, sink=sink, sha256=sha256, filename=filename,
                               sniffed=sniffed, claimed=claimed, title=title, evidence_date=evidence_date,
                               uploaded_by=uploaded_by, to_outbox=to_outbox)
            except IntegrityError:
                # A concurrent upload of the same bytes won the unique (tenant, sha256) race.
                existing = _find(conn, tenant_id, sha256)
                if existing is None:
                    raise
                return Registered(existing, None, True)
    if existing.status == DocumentStatus.failed.value:
        blobs.commit(sink.tmp, sha256)  # the original is normally still there; if not, it is now
        retried = _retry_failed(db, existing.id, to_outbox)
        if retried is not None:
            return retried
    sink.discard()
    return Registered(existing, None, True)


def _insert(conn, db: Database, blobs: BlobStore, *, tenant_id: str, sink: UploadSink, sha256: str, filename: str,
            sniffed: S.Sniffed, claimed: str | None, title: str | None, evidence_date: datetime | None,
            uploaded_by: str | None, to_outbox: bool) -> Registered:
    key = blobs.commit(sink.tmp, sha256)
    now = utcnow()
    doc = dict(id=new_id(), tenant_id=tenant_id, sha256=sha256, size_bytes=sink.size, filename=filename, title=title,
               claimed_type=claimed, detected_type=sniffed.media_type, storage_key=key,
               status=DocumentStatus.queued.value, evidence_date=evidence_date, uploaded_by=uploaded_by,
               meta={"encoding": sniffed.encoding} if sniffed.encoding else {}, chunk_count=0, created_at=now,
               updated_at=now)
    job = dict(id=new_id(), tenant_id=tenant_id, document_id=doc["id"], state=DocumentStatus.queued,
               stage=JobStage.queued, percent=0, attempts=0, timings={}, created_at=now,
               published_at=None if to_outbox else now)
    # two Core INSERTs in one transaction: the ORM's unit of work cost more than the statements (the API runs
    # this once per upload, under the process's SQLite writer lock)
    with db.write_lock, conn.begin():
        conn.execute(_INSERT_DOCUMENT, doc)
        conn.execute(_INSERT_JOB, job)
    return Registered(Document(**doc), Job(**job), False)


_INSERT_DOCUMENT = insert(Document.__table__)
_INSERT_JOB = insert(Job.__table__)
_FIND = select(Document.__table__).where(Document.tenant_id == bindparam("tenant_id"),
                                         Document.sha256 == bindparam("sha256"))


def _find(conn, tenant_id: str, sha256: str) -> Document | None:
    """The tenant's document with these bytes (a detached object), the read ended (the connection can begin)."""
    row = conn.execute(_FIND, {"tenant_id": tenant_id, "sha256": sha256}).mappings().first()
    conn.rollback()
    return None if row is None else Document(**row)


def ingest_local_file(path: Path, *, db: Database, blobs: BlobStore, tenant_id: str, max_bytes: int,
                      title: str | None = None, to_outbox: bool = False) -> Registered:
    """Register a file from disk exactly as an HTTP upload would be; its job is for the caller to run unless
    `to_outbox` (then a worker's dispatcher publishes it, as for an upload)."""
    sink = UploadSink(blobs, max_bytes)
    try:
        with path.open("rb") as fh:
            while data := fh.read(1 << 20):
                sink.write(data)
        sha = sink.close()
        safe, sniffed, claimed = inspect_upload(sink, path.name)
        return register_upload(db=db, blobs=blobs, tenant_id=tenant_id, sink=sink, sha256=sha, filename=safe,
                               sniffed=sniffed, claimed=claimed, title=title, evidence_date=None,
                               to_outbox=to_outbox)
    except BaseException:
        sink.discard()
        raise
