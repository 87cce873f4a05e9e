"""The governance chain's events and the state they fold into.

Every change to how the management system is run — a control's applicability, an owner, a review interval, a
corrective action opened, moved or edited — is one insert-only, hash-chained `GovernanceEvent`. Nothing else is
stored: the current state is the fold of a tenant's events in chain order, so the chain is the record an auditor
verifies and there is no second copy to drift from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select

from core.auth import Principal
from core.db import Database
from core.models import Document, as_utc, new_id, utcnow
from review import ledger
from review.models import GovernanceEvent

IMPLEMENTATION_STATUSES = ("planned", "partially_implemented", "implemented")
ACTION_STATES = ("open", "in_progress", "resolved", "verified", "cancelled")
CLOSED_STATES = ("verified", "cancelled")


def control_key(framework: str, control_id: str) -> str:
    return f"{framework}:{control_id}"


def _payload(values: dict) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record(db: Database, principal: Principal, *, entity_type: str, entity_id: str, event: str,
           payload: dict) -> GovernanceEvent:
    """Append one event to the tenant's governance chain."""
    tenant_id = principal.tenant_id

    def build(_s, seq: int, prev_hash: str) -> GovernanceEvent:
        values = {"id": new_id(), "tenant_id": tenant_id, "seq": seq, "entity_type": entity_type,
                  "entity_id": entity_id, "event": event, "payload": _payload(payload),
                  "actor_key_id": principal.key_id, "actor": principal.name, "created_at": utcnow(),
                  "prev_hash": prev_hash}
        return GovernanceEvent(**values, row_hash=ledger.row_hash(values, ledger.GOVERNANCE_FIELDS))

    return ledger.chained_insert(db, tenant_id=tenant_id, model=GovernanceEvent, lock_key="governance",
                                 build=build)


def event_public(e: GovernanceEvent) -> dict:
    return {"event_id": e.id, "seq": e.seq, "entity_type": e.entity_type, "entity_id": e.entity_id,
            "event": e.event, "payload": json.loads(e.payload), "actor": e.actor, "actor_key_id": e.actor_key_id,
            "at": as_utc(e.created_at).isoformat(), "row_hash": e.row_hash}


@dataclass
class Action:
    id: str
    statement: str
    controls: list[dict]
    root_cause: str | None
    action: str | None
    owner: str | None
    owner_key_id: str | None
    due_date: str | None          # ISO date
    source: dict
    state: str = "open"
    opened_at: datetime | None = None
    opened_by: str | None = None
    updated_at: datetime | None = None
    closed_reason: str | None = None
    verified_with: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    def overdue(self, today: date | None = None) -> bool:
        today = today or datetime.now(UTC).date()
        return (self.state not in CLOSED_STATES and self.due_date is not None
                and date.fromisoformat(self.due_date) < today)

    def public(self, *, history: bool = False) -> dict:
        out = {"id": self.id, "state": self.state, "statement": self.statement, "controls": self.controls,
               "root_cause": self.root_cause, "action": self.action, "owner": self.owner,
               "owner_key_id": self.owner_key_id, "due_date": self.due_date, "overdue": self.overdue(),
               "source": self.source, "opened_at": self.opened_at.isoformat() if self.opened_at else None,
               "opened_by": self.opened_by,
               "updated_at": self.updated_at.isoformat() if self.updated_at else None,
               "closed_reason": self.closed_reason, "verified_with": self.verified_with}
        if history:
            out["history"] = self.history
        return out


@dataclass
class GovState:
    """A tenant's governance state: the fold of its chain."""
    applicability: dict[str, dict] = field(default_factory=dict)     # control key -> latest applicability
    control_owners: dict[str, dict] = field(default_factory=dict)    # control key -> {owner, owner_key_id}
    document_owners: dict[str, dict] = field(default_factory=dict)   # document id -> {owner, owner_key_id}
    intervals: dict[str, dict] = field(default_factory=dict)         # control key -> {days, reason}
    actions: dict[str, Action] = field(default_factory=dict)

    def open_actions(self, key: str) -> list[Action]:
        return [a for a in self.actions.values() if a.state not in CLOSED_STATES
                and any(control_key(c["framework"], c["control_id"]) == key for c in a.controls)]

    def owner_of(self, key: str) -> dict | None:
        o = self.control_owners.get(key)
        return o if o and o.get("owner") else None


ACTION_FIELDS = ("statement", "root_cause", "action", "owner", "owner_key_id", "due_date")


def apply(state: GovState, e: GovernanceEvent) -> None:
    p = json.loads(e.payload)
    at = as_utc(e.created_at)
    who = {"actor": e.actor, "at": at.isoformat()}
    if e.entity_type == "control":
        if e.event == "applicability":
            state.applicability[e.entity_id] = {**p, **who}
        elif e.event == "owner":
            state.control_owners[e.entity_id] = {**p, **who}
        elif e.event == "review_interval":
            if p.get("days") is None:
                state.intervals.pop(e.entity_id, None)
            else:
                state.intervals[e.entity_id] = {**p, **who}
    elif e.entity_type == "document" and e.event == "owner":
        state.document_owners[e.entity_id] = {**p, **who}
    elif e.entity_type == "action":
        entry = {"event": e.event, **p, **who, "seq": e.seq}
        if e.event == "opened":
            state.actions[e.entity_id] = Action(
                id=e.entity_id, statement=p["statement"], controls=p["controls"], root_cause=p.get("root_cause"),
                action=p.get("action"), owner=p.get("owner"), owner_key_id=p.get("owner_key_id"),
                due_date=p.get("due_date"), source=p.get("source") or {}, opened_at=at, opened_by=e.actor,
                updated_at=at, history=[entry])
            return
        a = state.actions.get(e.entity_id)
        if a is None:
            return
        a.history.append(entry)
        a.updated_at = at
        for k in ACTION_FIELDS:
            if k in (p.get("changes") or {}):
                setattr(a, k, p["changes"][k])
        if e.event == "moved":
            a.state = p["to"]
            if p["to"] == "cancelled":
                a.closed_reason = p.get("reason")
            if p["to"] == "verified":
                a.verified_with = p.get("verified_with") or []


def load(db: Database, tenant_id: str) -> GovState:
    state = GovState()
    with db.session() as s:
        for e in s.scalars(select(GovernanceEvent).where(GovernanceEvent.tenant_id == tenant_id)
                           .order_by(GovernanceEvent.seq)):
            apply(state, e)
    return state


def events_of(db: Database, tenant_id: str, entity_type: str, entity_id: str) -> list[dict]:
    with db.session() as s:
        return [event_public(e) for e in s.scalars(
            select(GovernanceEvent).where(GovernanceEvent.tenant_id == tenant_id,
                                          GovernanceEvent.entity_type == entity_type,
                                          GovernanceEvent.entity_id == entity_id).order_by(GovernanceEvent.seq))]


EVIDENCE_DATE_SOURCES = ("document", "upload_form", "upload")


def evidence_date(doc: Document) -> tuple[datetime, str]:
    """When a piece of evidence is from, and where that was read: the document itself (the last event of a log,
    the date a policy or record states), else the date given at upload, else the upload date."""
    read = (doc.meta or {}).get("evidence_read") or {}
    if read.get("at"):
        try:
            return as_utc(datetime.fromisoformat(read["at"])), "document"
        except ValueError:
            pass
    if doc.evidence_date is not None:
        return as_utc(doc.evidence_date), "upload_form"
    return as_utc(doc.created_at), "upload"
