"""The review workflow's tables: decisions (the ledger's rows) and per-workspace crosswalk edge reviews."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog import FrameworkId
from core.models import Base, EnumText, new_id, utcnow


class DecisionKind(StrEnum):
    confirm = "confirm"
    reject = "reject"
    add = "add"  # a reviewer-added mapping, confirmed by its author


class ReasonCode(StrEnum):
    wrong_control = "wrong_control"
    partial = "partial"
    insufficient_evidence = "insufficient_evidence"
    stale = "stale"
    out_of_scope = "out_of_scope"
    other = "other"


class EdgeVerdict(StrEnum):
    accepted = "accepted"
    disputed = "disputed"  # still proposes coverage, flagged
    rejected = "rejected"  # proposes nothing in that workspace


class Decision(Base):
    """One reviewer decision: insert-only (database triggers refuse UPDATE and DELETE), hash-chained per tenant.

    `prev_hash` is unique per tenant, so two writers racing for the same chain head cannot fork the chain:
    the loser's insert fails and is retried on the new head.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq", name="uq_decisions_tenant_seq"),
        UniqueConstraint("tenant_id", "prev_hash", name="uq_decisions_tenant_prev"),
        Index("ix_decisions_suggestion", "suggestion_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    seq: Mapped[int] = mapped_column(Integer)
    suggestion_id: Mapped[str] = mapped_column(ForeignKey("suggestions.id"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    framework: Mapped[FrameworkId] = mapped_column(EnumText(FrameworkId, 40))
    control_id: Mapped[str] = mapped_column(String(40))
    decision: Mapped[DecisionKind] = mapped_column(EnumText(DecisionKind))
    reason_code: Mapped[ReasonCode | None] = mapped_column(EnumText(ReasonCode, 40))
    comment: Mapped[str | None] = mapped_column(Text)
    actor_key_id: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str] = mapped_column(String(200))
    supersedes_id: Mapped[str | None] = mapped_column(String(36))
    quote_sha256: Mapped[str | None] = mapped_column(String(64))
    classifier_version: Mapped[str] = mapped_column(String(200))
    catalog_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class EdgeReview(Base):
    """A tenant's review of one crosswalk edge (the catalog's data stays as shipped; the latest review counts).

    `rejected` edges propose nothing for that tenant; `disputed` ones still propose, flagged; `accepted` ones are
    marked reviewed. Kept as history: a new review supersedes, never overwrites.
    """

    __tablename__ = "edge_reviews"
    __table_args__ = (Index("ix_edge_reviews_tenant_edge", "tenant_id", "from_framework", "from_id", "to_framework",
                            "to_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    from_framework: Mapped[FrameworkId] = mapped_column(EnumText(FrameworkId, 40))
    from_id: Mapped[str] = mapped_column(String(40))
    to_framework: Mapped[FrameworkId] = mapped_column(EnumText(FrameworkId, 40))
    to_id: Mapped[str] = mapped_column(String(40))
    verdict: Mapped[EdgeVerdict] = mapped_column(EnumText(EdgeVerdict))
    comment: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    catalog_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GovernanceEvent(Base):
    """One change to how the management system is run: a control's applicability, an owner, a review interval,
    a corrective action opened or moved. Insert-only (triggers of migration 0009), hash-chained per tenant like
    the decisions; the current state is read by folding the events, so there is no row to change behind them."""

    __tablename__ = "governance_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq", name="uq_governance_tenant_seq"),
        UniqueConstraint("tenant_id", "prev_hash", name="uq_governance_tenant_prev"),
        Index("ix_governance_entity", "tenant_id", "entity_type", "entity_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    seq: Mapped[int] = mapped_column(Integer)
    entity_type: Mapped[str] = mapped_column(String(20))    # control | document | action
    entity_id: Mapped[str] = mapped_column(String(120))     # "<framework>:<control id>", a document or action id
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)              # canonical JSON (sorted keys, no whitespace)
    actor_key_id: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
