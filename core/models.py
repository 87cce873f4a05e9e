"""SQLAlchemy 2 models. Schema changes go through Alembic migrations in core/migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import Enum, StrEnum

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from catalog import FrameworkId

DEFAULT_TENANT_ID = "00000000-0000-0000-0000-000000000001"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(d: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC."""
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class EnumText(TypeDecorator):
    """A str Enum kept as its value in a plain VARCHAR (a non-native enum: no database type, no migration).

    Writing a value outside the enum raises before it reaches the database; reading gives the enum member, which
    compares equal to its string value."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[Enum], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value, dialect):
        return None if value is None else self.enum(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum(value)


class DocumentStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    indexed = "indexed"
    failed = "failed"


class JobStage(StrEnum):
    """Where an ingestion job is: in order, then `done`; `requeued` after its worker died (core/leases.py)."""

    queued = "queued"
    partition = "partition"
    split = "split"
    embed = "embed"
    index = "index"
    done = "done"
    requeued = "requeued"


class EvalRunState(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class SuggestionSource(StrEnum):
    retrieval = "retrieval"  # the classifier found it in the document
    crosswalk = "crosswalk"  # proposed mostly through a crosswalk from evidence of another framework
    reviewer = "reviewer"  # added by a reviewer (a confirmed `add` decision)


class Tenant(Base):
    """A workspace; every row and every vector belongs to one."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(Base):
    """One uploaded file. Content is immutable; status only moves forward (or to failed)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("tenant_id", "sha256", name="uq_documents_tenant_sha256"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(500))
    claimed_type: Mapped[str | None] = mapped_column(String(100))
    detected_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(50))
    storage_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[DocumentStatus] = mapped_column(EnumText(DocumentStatus), default=DocumentStatus.queued,
                                                   index=True)
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_detail: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    page_count: Mapped[int | None] = mapped_column(Integer)
    record_count: Mapped[int | None] = mapped_column(Integer)
    evidence_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    chunker_version: Mapped[str | None] = mapped_column(String(40))
    embedder_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    classification_run_id: Mapped[str | None] = mapped_column(String(36))
    uploaded_by: Mapped[str | None] = mapped_column(String(36))

    jobs: Mapped[list[Job]] = relationship(back_populates="document", order_by="Job.created_at")


class Job(Base):
    """One run of the ingestion pipeline over a document."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_lease", "state", "lease_expires_at"),
        # the outbox: jobs not yet handed to the broker (worker/outbox.py)
        Index("ix_jobs_unpublished", "created_at", sqlite_where=text("published_at IS NULL"),
              postgresql_where=text("published_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    state: Mapped[DocumentStatus] = mapped_column(EnumText(DocumentStatus), default=DocumentStatus.queued)
    stage: Mapped[JobStage | None] = mapped_column(EnumText(JobStage))
    percent: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_detail: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[dict] = mapped_column(JSON, default=dict)
    # who runs the job and until when (core/leases.py); an expired lease on an active job means its worker died
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # when a worker's dispatcher published the job to the broker; NULL: committed, waiting in the outbox
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    document: Mapped[Document] = relationship(back_populates="jobs")


class Chunk(Base):
    """A span of a document with where it came from; its id is also its vector id."""

    __tablename__ = "chunks"
    __table_args__ = (
        UniqueConstraint("document_id", "idx", name="uq_chunks_document_idx"),
        Index("ix_chunks_tenant_document", "tenant_id", "document_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    record_start: Mapped[int | None] = mapped_column(Integer)
    record_end: Mapped[int | None] = mapped_column(Integer)
    line_start: Mapped[int | None] = mapped_column(Integer)
    line_end: Mapped[int | None] = mapped_column(Integer)
    ts_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ts_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    section: Mapped[str | None] = mapped_column(String(500))
    meta: Mapped[dict] = mapped_column(JSON, default=dict)


class NhiSighting(Base):
    """One record's evidence about one non-human identity (ingest/nhi): replaced whole when its document is
    processed again, merged across documents into the inventory when read. Never holds a secret value."""

    __tablename__ = "nhi_sightings"
    __table_args__ = (
        Index("ix_nhi_sightings_tenant_identity", "tenant_id", "identity"),
        Index("ix_nhi_sightings_document", "document_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    identity: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(20))
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    action: Mapped[str | None] = mapped_column(String(500))
    credential_event: Mapped[str | None] = mapped_column(String(40))
    credential: Mapped[str | None] = mapped_column(String(300))
    owner: Mapped[str | None] = mapped_column(String(300))
    workload: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(500))
    privileged: Mapped[bool] = mapped_column(default=False)
    human_use: Mapped[bool] = mapped_column(default=False)
    human: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[bool] = mapped_column(default=True)
    record_index: Mapped[int | None] = mapped_column(Integer)
    line_start: Mapped[int | None] = mapped_column(Integer)
    line_end: Mapped[int | None] = mapped_column(Integer)


class SuggestionState(StrEnum):
    suggested = "suggested"
    needs_review = "needs_review"  # under the framework's threshold: abstain rather than guess
    added = "added"  # a reviewer-added mapping (source `reviewer`)


class Suggestion(Base):
    """A document x control mapping proposed by one classification run; runs are kept for the record."""

    __tablename__ = "suggestions"
    __table_args__ = (
        Index("ix_suggestions_document_run", "document_id", "run_id"),
        Index("ix_suggestions_tenant_framework", "tenant_id", "framework", "control_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    run_id: Mapped[str] = mapped_column(String(36))
    framework: Mapped[FrameworkId] = mapped_column(EnumText(FrameworkId, 40))
    control_id: Mapped[str] = mapped_column(String(40))
    rank: Mapped[int] = mapped_column(Integer)
    raw_score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    state: Mapped[SuggestionState] = mapped_column(EnumText(SuggestionState))
    source: Mapped[SuggestionSource] = mapped_column(EnumText(SuggestionSource))
    chunk_id: Mapped[str | None] = mapped_column(String(64))
    quote: Mapped[str | None] = mapped_column(Text)
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    record_start: Mapped[int | None] = mapped_column(Integer)
    line_start: Mapped[int | None] = mapped_column(Integer)
    line_end: Mapped[int | None] = mapped_column(Integer)
    crosswalk_path: Mapped[list | None] = mapped_column(JSON)
    relationship: Mapped[str | None] = mapped_column(String(20))
    features: Mapped[dict] = mapped_column(JSON, default=dict)
    classifier_version: Mapped[str] = mapped_column(String(200))
    embedder_id: Mapped[str] = mapped_column(String(100))
    catalog_version: Mapped[str] = mapped_column(String(40))
    config_hash: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # LLM verification (issue 5); empty when no LLM step ran
    llm_verdict: Mapped[str | None] = mapped_column(String(20))
    llm_rationale: Mapped[str | None] = mapped_column(Text)
    llm_model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(20))


class Role(StrEnum):
    uploader = "uploader"
    reviewer = "reviewer"
    auditor = "auditor"
    admin = "admin"


class ApiKey(Base):
    """A caller: the key itself is never stored, only its SHA-256 (keys are 256-bit random)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(36))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UiSession(Base):
    """A web UI session: the browser holds a random token, the server its SHA-256, the key it stands for and the
    CSRF token every form carries. Idle and absolute expiry are checked on use; logout ends it."""

    __tablename__ = "ui_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvalRun(Base):
    """One evaluation of the classifier on a labelled set; kept."""

    __tablename__ = "eval_runs"
    __table_args__ = (Index("ix_eval_runs_tenant", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    dataset: Mapped[str] = mapped_column(String(200))
    dataset_sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[EvalRunState] = mapped_column(EnumText(EvalRunState), default=EvalRunState.queued)
    percent: Mapped[int] = mapped_column(Integer, default=0)
    classifier_version: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
