"""The decisions ledger: insert-only rows, hash-chained per tenant, verifiable without trusting the app.

Each row's hash covers a canonical JSON form of the decision (who, what, why, when, the suggestion's classifier and
catalog versions, the SHA-256 of the quoted evidence) and the previous row's hash. The database refuses UPDATE and
DELETE (triggers from migration 0005); `verify` recomputes the chain, so a change made behind the app's back, with
the triggers dropped, still shows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Suggestion, new_id, utcnow
from review.models import Decision, GovernanceEvent

HASHED_FIELDS = ("id", "tenant_id", "seq", "suggestion_id", "document_id", "framework", "control_id", "decision",
                 "reason_code", "comment", "actor_key_id", "actor", "supersedes_id", "quote_sha256",
                 "classifier_version", "catalog_version", "created_at", "prev_hash")
GOVERNANCE_FIELDS = ("id", "tenant_id", "seq", "entity_type", "entity_id", "event", "payload", "actor_key_id",
                     "actor", "created_at", "prev_hash")
MAX_RETRIES = 20
_SQLITE_WRITERS = threading.Lock()


def genesis_hash(tenant_id: str) -> str:
    return hashlib.sha256(f"clausewise-ledger-genesis:{tenant_id}".encode()).hexdigest()


def quote_sha256(quote: str | None) -> str | None:
    return hashlib.sha256(quote.encode("utf-8")).hexdigest() if quote is not None else None


def _ts(v: datetime) -> str:
    v = v if v.tzinfo else v.replace(tzinfo=UTC)  # SQLite hands back naive UTC datetimes
    return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(values: dict, fields: tuple[str, ...] = HASHED_FIELDS) -> bytes:
    """The bytes a row hash is taken over: the hashed fields, sorted keys, no whitespace, UTF-8."""
    body = {k: (_ts(values[k]) if isinstance(values[k], datetime) else values[k]) for k in fields}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def row_hash(values: dict, fields: tuple[str, ...] = HASHED_FIELDS) -> str:
    return hashlib.sha256(canonical(values, fields)).hexdigest()


def _values(row: Decision) -> dict:
    return {k: getattr(row, k) for k in HASHED_FIELDS}


def chained_insert(db: Database, *, tenant_id: str, model, lock_key: str, build):
    """Insert one row at the head of a tenant's hash chain of `model` (decisions, governance events).

    `build(session, seq, prev_hash)` returns the new row. On PostgreSQL writers to one tenant's chain queue on a
    transaction-scoped advisory lock; on SQLite (one writer at a time anyway) the threads of a process queue on a
    lock. A writer of another process that still loses the race for the chain head hits the unique constraint on
    (tenant, prev_hash) and retries on the new head.
    """
    for attempt in range(MAX_RETRIES):
        try:
            with _SQLITE_WRITERS if db.engine.dialect.name == "sqlite" else contextlib.nullcontext(), \
                    db.session() as s:
                if s.get_bind().dialect.name == "postgresql":
                    s.execute(text("select pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{lock_key}:{tenant_id}"})
                head = s.scalar(select(model).where(model.tenant_id == tenant_id).order_by(model.seq.desc()).limit(1))
                row = build(s, (head.seq + 1) if head else 1, head.row_hash if head else genesis_hash(tenant_id))
                s.add(row)
            return row
        except IntegrityError:  # another writer took this seq / chain head first
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise ClausewiseError(ErrorCode.ledger_busy, "the ledger is busy; try again")


def append(db: Database, *, tenant_id: str, suggestion: Suggestion, decision: str, actor: str,
           actor_key_id: str | None, reason_code: str | None = None, comment: str | None = None) -> Decision:
    """Append one decision to the tenant's chain (see `chained_insert` for how concurrent writers queue)."""

    def build(s, seq: int, prev_hash: str) -> Decision:
        previous = s.scalar(select(Decision.id).where(Decision.suggestion_id == suggestion.id)
                            .order_by(Decision.seq.desc()).limit(1))
        values = {
            "id": new_id(), "tenant_id": tenant_id, "seq": seq,
            "suggestion_id": suggestion.id, "document_id": suggestion.document_id,
            "framework": suggestion.framework, "control_id": suggestion.control_id, "decision": decision,
            "reason_code": reason_code, "comment": comment, "actor_key_id": actor_key_id, "actor": actor,
            "supersedes_id": previous, "quote_sha256": quote_sha256(suggestion.quote),
            "classifier_version": suggestion.classifier_version,
            "catalog_version": suggestion.catalog_version,
            # stored and hashed at microsecond precision, as both SQLite and PostgreSQL keep it
            "created_at": utcnow(),
            "prev_hash": prev_hash,
        }
        return Decision(**values, row_hash=row_hash(values))

    return chained_insert(db, tenant_id=tenant_id, model=Decision, lock_key="ledger", build=build)


@dataclass
class Verification:
    tenant_id: str
    rows: int = 0
    governance_rows: int = 0
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def public(self) -> dict:
        return {"tenant_id": self.tenant_id, "rows": self.rows, "governance_rows": self.governance_rows,
                "ok": self.ok, "problems": self.problems}


def verify(db: Database, tenant_id: str) -> Verification:
    """Recompute the tenant's chain: sequence gaps, broken links, changed rows and changed quoted evidence."""
    out = Verification(tenant_id)
    prev, expected_seq = genesis_hash(tenant_id), 1
    with db.session() as s:
        quotes = dict(s.execute(select(Suggestion.id, Suggestion.quote).join(
            Decision, Decision.suggestion_id == Suggestion.id).where(Decision.tenant_id == tenant_id)).all())
        for row in s.scalars(select(Decision).where(Decision.tenant_id == tenant_id).order_by(Decision.seq)):
            out.rows += 1
            where = {"seq": row.seq, "decision_id": row.id}
            if row.seq != expected_seq:
                out.problems.append({**where, "problem": "sequence_gap", "expected_seq": expected_seq})
            if row.prev_hash != prev:
                out.problems.append({**where, "problem": "broken_link"})
            if row_hash(_values(row)) != row.row_hash:
                out.problems.append({**where, "problem": "row_changed"})
            if quote_sha256(quotes.get(row.suggestion_id)) != row.quote_sha256:
                out.problems.append({**where, "problem": "evidence_changed", "suggestion_id": row.suggestion_id})
            prev, expected_seq = row.row_hash, row.seq + 1
        # the governance chain: applicability, owners, review intervals, corrective actions
        prev, expected_seq = genesis_hash(tenant_id), 1
        for g in s.scalars(select(GovernanceEvent).where(GovernanceEvent.tenant_id == tenant_id)
                           .order_by(GovernanceEvent.seq)):
            out.governance_rows += 1
            where = {"chain": "governance", "seq": g.seq, "event_id": g.id, "entity_type": g.entity_type,
                     "entity_id": g.entity_id}
            if g.seq != expected_seq:
                out.problems.append({**where, "problem": "sequence_gap", "expected_seq": expected_seq})
            if g.prev_hash != prev:
                out.problems.append({**where, "problem": "broken_link"})
            if row_hash({k: getattr(g, k) for k in GOVERNANCE_FIELDS}, GOVERNANCE_FIELDS) != g.row_hash:
                out.problems.append({**where, "problem": "row_changed"})
            prev, expected_seq = g.row_hash, g.seq + 1
    return out


def tenants_with_decisions(db: Database) -> list[str]:
    """Tenants with anything on a chain (decisions or governance events)."""
    with db.session() as s:
        found = set(s.scalars(select(Decision.tenant_id).group_by(Decision.tenant_id)
                              .having(func.count(Decision.id) > 0)))
        found |= set(s.scalars(select(GovernanceEvent.tenant_id).group_by(GovernanceEvent.tenant_id)))
    return sorted(found)
