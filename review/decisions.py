"""Decisions on suggestions and reviewer-added mappings.

Every decision goes through the ledger (review.ledger): insert-only, hash-chained. The effective decision on a
suggestion is its latest one; earlier ones stay.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from catalog import Catalog
from core.auth import Principal
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Chunk, Document, DocumentStatus, Suggestion, new_id
from core.scoping import tenant_document
from review import ledger
from review.models import Decision, DecisionKind, ReasonCode

CONFIRMED = {DecisionKind.confirm.value, DecisionKind.add.value}
REVIEWER_RUN = "reviewer"


def iso(v: datetime | None) -> str | None:
    if v is None:
        return None
    return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()


def decision_public(d: Decision) -> dict:
    return {"decision_id": d.id, "seq": d.seq, "suggestion_id": d.suggestion_id, "document_id": d.document_id,
            "framework": d.framework, "control_id": d.control_id, "decision": d.decision,
            "reason_code": d.reason_code, "comment": d.comment, "actor": d.actor, "actor_key_id": d.actor_key_id,
            "supersedes": d.supersedes_id, "classifier_version": d.classifier_version,
            "catalog_version": d.catalog_version, "created_at": iso(d.created_at), "row_hash": d.row_hash,
            "prev_hash": d.prev_hash}


def _suggestion(s, tenant_id: str, suggestion_id: str) -> Suggestion:
    sg = s.get(Suggestion, suggestion_id)
    if sg is None or sg.tenant_id != tenant_id:
        raise ClausewiseError(ErrorCode.suggestion_not_found, f"no suggestion {suggestion_id}")
    return sg


def latest_decisions(s, tenant_id: str) -> dict[str, Decision]:
    """The effective (latest) decision per suggestion in a tenant."""
    out: dict[str, Decision] = {}
    for d in s.scalars(select(Decision).where(Decision.tenant_id == tenant_id).order_by(Decision.seq)):
        out[d.suggestion_id] = d
    return out


def decide(*, db: Database, principal: Principal, suggestion_id: str, decision: str, reason_code: str | None,
           comment: str | None, four_eyes: bool) -> dict:
    """Confirm or reject a suggestion; a reject needs a reason code. Returns the ledger row."""
    if decision not in (DecisionKind.confirm.value, DecisionKind.reject.value):
        raise ClausewiseError(ErrorCode.invalid_decision, "decision must be 'confirm' or 'reject'",
                              decision=decision)
    if decision == DecisionKind.reject.value:
        if reason_code not in {r.value for r in ReasonCode}:
            raise ClausewiseError(ErrorCode.reason_required, "a reject needs a reason_code",
                                  allowed=[r.value for r in ReasonCode], reason_code=reason_code)
    elif reason_code is not None:
        raise ClausewiseError(ErrorCode.invalid_decision, "reason_code is for rejects only")
    if comment is not None and len(comment) > 4000:
        raise ClausewiseError(ErrorCode.validation_error, "comment is longer than 4000 characters")
    with db.session() as s:
        sg = _suggestion(s, principal.tenant_id, suggestion_id)
        doc = s.get(Document, sg.document_id)
        if (four_eyes and decision == DecisionKind.confirm.value and doc.uploaded_by
                and doc.uploaded_by == principal.key_id):
            raise ClausewiseError(ErrorCode.four_eyes_violation,
                                  "four-eyes rule: a reviewer cannot confirm evidence they uploaded")
        s.expunge(sg)
    row = ledger.append(db, tenant_id=principal.tenant_id, suggestion=sg, decision=decision,
                        actor=principal.name, actor_key_id=principal.key_id, reason_code=reason_code,
                        comment=comment)
    return decision_public(row)


BULK_MAX = 200
LOW_CONFIDENCE = 0.7   # below the high band: a bulk confirm names these and asks again


def bulk_confirm(*, db: Database, principal: Principal, suggestion_ids: list[str], four_eyes: bool,
                 acknowledge_low: bool = False, comment: str | None = None) -> dict:
    """Confirm a selection in one action. Suggestions below their calibrated threshold (`needs_review`) are never
    confirmed in bulk, and neither is one already decided; if any selected item is below LOW_CONFIDENCE, nothing is
    applied until the caller acknowledges the named items. Each confirm is its own ledger row, as one by one."""
    ids = list(dict.fromkeys(suggestion_ids))
    if not ids:
        raise ClausewiseError(ErrorCode.validation_error, "select at least one suggestion")
    if len(ids) > BULK_MAX:
        raise ClausewiseError(ErrorCode.validation_error, f"at most {BULK_MAX} suggestions at once")
    with db.session() as s:
        rows = [_suggestion(s, principal.tenant_id, i) for i in ids]
        decided = set(s.scalars(select(Decision.suggestion_id).where(Decision.tenant_id == principal.tenant_id,
                                                                     Decision.suggestion_id.in_(ids))))
        brief = lambda sg: {"suggestion_id": sg.id, "framework": sg.framework,  # noqa: E731
                            "control_id": sg.control_id, "confidence": sg.confidence}
        needs_review = [brief(sg) for sg in rows if sg.state == "needs_review"]
        already = [brief(sg) for sg in rows if sg.id in decided and sg.state != "needs_review"]
        todo = [sg for sg in rows if sg.state != "needs_review" and sg.id not in decided]
        low = [brief(sg) for sg in todo if (sg.confidence or 0.0) < LOW_CONFIDENCE]
        todo_ids = [sg.id for sg in todo]
        if four_eyes and todo:   # checked for the whole selection first, so a refusal applies nothing
            own = s.scalars(select(Document.id).where(Document.id.in_({sg.document_id for sg in todo}),
                                                      Document.uploaded_by == principal.key_id)).all()
            if own:
                raise ClausewiseError(ErrorCode.four_eyes_violation, "four-eyes rule: the selection holds evidence "
                                      "you uploaded", document_ids=sorted(own))
    out = {"confirmed": [], "skipped_needs_review": needs_review, "skipped_decided": already,
           "low_confidence": low, "applied": False}
    if low and not acknowledge_low:
        return out
    for sid in todo_ids:
        out["confirmed"].append(decide(db=db, principal=principal, suggestion_id=sid, decision="confirm",
                                       reason_code=None, comment=comment, four_eyes=four_eyes))
    out["applied"] = True
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _locate(chunks: list[Chunk], quote: str, char_start: int | None, char_end: int | None) -> tuple[Chunk, int, int]:
    """The chunk holding the quote and the quote's document offsets; offsets, when given, must point at it."""
    if char_start is not None or char_end is not None:
        if char_start is None or char_end is None or not 0 <= char_start < char_end:
            raise ClausewiseError(ErrorCode.invalid_offsets, "char_start and char_end go together, start < end")
        for c in chunks:
            if c.char_start <= char_start and char_end <= c.char_end:
                span = c.text[char_start - c.char_start:char_end - c.char_start]
                if _norm(span) != _norm(quote):
                    raise ClausewiseError(ErrorCode.invalid_offsets, "the text at these offsets is not the quote",
                                          text_at_offsets=span[:300])
                return c, char_start, char_end
        raise ClausewiseError(ErrorCode.invalid_offsets, "the offsets do not fall inside one chunk of the document")
    needle = _norm(quote)
    for c in chunks:
        flat, index = [], []  # the chunk with whitespace collapsed, and where each kept character came from
        prev_space = True
        for i, ch in enumerate(c.text):
            if ch.isspace():
                if prev_space:
                    continue
                flat.append(" ")
                prev_space = True
            else:
                flat.append(ch.lower())
                prev_space = False
            index.append(i)
        at = "".join(flat).find(needle)
        if at >= 0:
            start = c.char_start + index[at]
            return c, start, c.char_start + index[at + len(needle) - 1] + 1
    raise ClausewiseError(ErrorCode.quote_not_found, "the quote does not occur in the document's text")


def add_mapping(*, db: Database, catalog: Catalog, principal: Principal, document_id: str, framework: str,
                control_id: str, quote: str, char_start: int | None, char_end: int | None,
                comment: str | None) -> dict:
    """A mapping the classifier missed: stored as a reviewer suggestion and confirmed by an `add` decision."""
    if framework not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
    if control_id not in catalog.frameworks[framework].controls:
        raise ClausewiseError(ErrorCode.control_not_found, f"{framework} has no control {control_id!r}")
    if not quote or not quote.strip() or len(quote) > 5000:
        raise ClausewiseError(ErrorCode.quote_not_found, "quote must be 1-5000 characters of the document")
    with db.session() as s:
        doc = tenant_document(s, principal.tenant_id, document_id)
        if doc.status != DocumentStatus.indexed.value:
            raise ClausewiseError(ErrorCode.document_not_indexed, f"document is {doc.status.value}, not indexed")
        chunks = s.scalars(select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.idx)).all()
        chunk, start, end = _locate(chunks, quote, char_start, char_end)
        sg = Suggestion(id=new_id(), tenant_id=principal.tenant_id, document_id=doc.id, run_id=REVIEWER_RUN,
                        framework=framework, control_id=control_id, rank=0, raw_score=1.0, confidence=1.0,
                        state="added", source="reviewer", chunk_id=chunk.id,
                        quote=chunk.text[start - chunk.char_start:end - chunk.char_start], char_start=start,
                        char_end=end, page=chunk.page, record_start=chunk.record_start,
                        line_start=chunk.line_start, line_end=chunk.line_end, features={},
                        classifier_version=f"reviewer:{principal.key_id}", embedder_id="none",
                        catalog_version=catalog.version, config_hash="reviewer")
        s.add(sg)
    row = ledger.append(db, tenant_id=principal.tenant_id, suggestion=sg, decision=DecisionKind.add.value,
                        actor=principal.name, actor_key_id=principal.key_id, comment=comment)
    from classifiers.suggest import suggestion_public

    return {"suggestion": suggestion_public(sg, catalog.control(framework, control_id).title),
            "decision": decision_public(row)}


def suggestion_detail(*, db: Database, catalog: Catalog, tenant_id: str, suggestion_id: str) -> dict:
    """A suggestion with its whole decision history, oldest first."""
    from classifiers.suggest import suggestion_public

    with db.session() as s:
        sg = _suggestion(s, tenant_id, suggestion_id)
        history = s.scalars(select(Decision).where(Decision.suggestion_id == sg.id).order_by(Decision.seq)).all()
        out = suggestion_public(sg, catalog.control(sg.framework, sg.control_id).title)
    out["decisions"] = [decision_public(d) for d in history]
    out["current_decision"] = out["decisions"][-1]["decision"] if history else None
    return out
