"""Review workflow: decisions on suggestions, reviewer-added mappings, the review queue and coverage.

Every decision goes through the ledger (core.ledger): insert-only, hash-chained. The effective decision on a
suggestion is its latest one; earlier ones stay.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timezone

from sqlalchemy import select

from catalog import Catalog
from core import ledger
from core.auth import Principal
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import (Chunk, Decision, DecisionKind, Document, DocumentStatus, EdgeReview, ReasonCode,
                         Suggestion, new_id)

CONFIRMED = {DecisionKind.confirm.value, DecisionKind.add.value}
REVIEWER_RUN = "reviewer"
NEAR_DUPLICATE_JACCARD = 0.8


def _iso(v: datetime | None) -> str | None:
    if v is None:
        return None
    return (v if v.tzinfo else v.replace(tzinfo=timezone.utc)).isoformat()


def decision_public(d: Decision) -> dict:
    return {"decision_id": d.id, "seq": d.seq, "suggestion_id": d.suggestion_id, "document_id": d.document_id,
            "framework": d.framework, "control_id": d.control_id, "decision": d.decision,
            "reason_code": d.reason_code, "comment": d.comment, "actor": d.actor, "actor_key_id": d.actor_key_id,
            "supersedes": d.supersedes_id, "classifier_version": d.classifier_version,
            "catalog_version": d.catalog_version, "created_at": _iso(d.created_at), "row_hash": d.row_hash,
            "prev_hash": d.prev_hash}


def _suggestion(s, tenant_id: str, suggestion_id: str) -> Suggestion:
    sg = s.get(Suggestion, suggestion_id)
    if sg is None or sg.tenant_id != tenant_id:
        raise ClausewiseError(ErrorCode.suggestion_not_found, f"no suggestion {suggestion_id}")
    return sg


def _document(s, tenant_id: str, document_id: str) -> Document:
    doc = s.get(Document, document_id)
    if doc is None or doc.tenant_id != tenant_id:
        raise ClausewiseError(ErrorCode.document_not_found, f"no document {document_id}")
    return doc


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
        doc = _document(s, principal.tenant_id, document_id)
        if doc.status != DocumentStatus.indexed.value:
            raise ClausewiseError(ErrorCode.document_not_indexed, f"document is {doc.status}, not indexed")
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


def _current(s, tenant_id: str, framework: str | None) -> list[tuple[Suggestion, Document]]:
    """Suggestions of each document's current classification run, plus every reviewer-added mapping."""
    q = (select(Suggestion, Document).join(Document, Document.id == Suggestion.document_id)
         .where(Suggestion.tenant_id == tenant_id, Document.tenant_id == tenant_id,
                (Suggestion.run_id == Document.classification_run_id) | (Suggestion.run_id == REVIEWER_RUN)))
    if framework:
        q = q.where(Suggestion.framework == framework)
    return list(s.execute(q).tuples())


def _tokens(text: str | None) -> set[str]:
    return set(re.findall(r"[a-z0-9]{3,}", (text or "").lower()))


def review_queue(*, db: Database, catalog: Catalog, tenant_id: str, framework: str | None = None,
                 limit: int = 50) -> dict:
    """Undecided suggestions, gaps first (controls with no confirmed evidence), then the most uncertain.

    Near-duplicate evidence for one control (quotes whose word sets overlap >= 80 %) is collapsed into one item
    that lists the others, so a reviewer reads the same log line once.
    """
    from classifiers.suggest import suggestion_public

    if framework is not None and framework not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
    with db.session() as s:
        latest = latest_decisions(s, tenant_id)
        rows = _current(s, tenant_id, framework)
    confirmed = {(sg.framework, sg.control_id) for sg, _ in rows
                 if sg.id in latest and latest[sg.id].decision in CONFIRMED}
    pending = [(sg, doc) for sg, doc in rows if sg.id not in latest]

    def priority(item):
        sg, _ = item
        gap = (sg.framework, sg.control_id) not in confirmed
        uncertainty = 1.0 - abs(2.0 * sg.confidence - 1.0)
        return (0 if gap else 1, -round(uncertainty, 6), sg.rank, sg.id)

    pending.sort(key=priority)
    groups: list[dict] = []
    by_control: dict[tuple[str, str], list[tuple[dict, set[str]]]] = defaultdict(list)
    for sg, doc in pending:
        toks = _tokens(sg.quote)
        twin = next((g for g, gt in by_control[(sg.framework, sg.control_id)]
                     if toks and gt and len(toks & gt) / len(toks | gt) >= NEAR_DUPLICATE_JACCARD), None)
        if twin is not None:
            twin["duplicates"].append({"suggestion_id": sg.id, "document_id": doc.id, "filename": doc.filename})
            continue
        gap = (sg.framework, sg.control_id) not in confirmed
        entry = {**suggestion_public(sg, catalog.control(sg.framework, sg.control_id).title),
                 "filename": doc.filename, "coverage_gap": gap,
                 "uncertainty": round(1.0 - abs(2.0 * sg.confidence - 1.0), 4), "duplicates": []}
        by_control[(sg.framework, sg.control_id)].append((entry, toks))
        groups.append(entry)
    return {"total_pending": len(pending), "items": groups[:limit], "collapsed": len(pending) - len(groups)}


def _period_flag(doc: Document, start: datetime | None, end: datetime | None) -> dict:
    lo = doc.evidence_start or doc.evidence_date
    hi = doc.evidence_end or doc.evidence_date
    lo = lo if lo is None or lo.tzinfo else lo.replace(tzinfo=timezone.utc)
    hi = hi if hi is None or hi.tzinfo else hi.replace(tzinfo=timezone.utc)
    out = {"evidence_date": _iso(doc.evidence_date), "evidence_start": _iso(lo), "evidence_end": _iso(hi)}
    if start is None and end is None:
        return {**out, "in_period": None}
    if lo is None and hi is None:
        return {**out, "in_period": None, "undated": True}
    inside = (end is None or (lo or hi) <= end) and (start is None or (hi or lo) >= start)
    return {**out, "in_period": inside}


def coverage(*, db: Database, catalog: Catalog, tenant_id: str, framework: str, period_start: datetime | None = None,
             period_end: datetime | None = None) -> dict:
    """Per control: confirmed evidence, suggested only, proposed through a crosswalk, or none.

    Crosswalk proposals come from confirmed evidence of another framework, with the path; they never count as
    confirmed. With an audit period, evidence dated outside it is flagged, and a control whose confirmed evidence
    all falls outside is `confirmed_outside_period`.
    """
    if framework not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
    with db.session() as s:
        latest = latest_decisions(s, tenant_id)
        rows = _current(s, tenant_id, None)
    confirmed: dict[str, list[dict]] = defaultdict(list)
    suggested: dict[str, list[dict]] = defaultdict(list)
    confirmed_elsewhere: list[tuple[Suggestion, Document]] = []
    for sg, doc in rows:
        d = latest.get(sg.id)
        if d is not None and d.decision in CONFIRMED:
            if sg.framework == framework:
                confirmed[sg.control_id].append({
                    "document_id": doc.id, "filename": doc.filename, "suggestion_id": sg.id, "quote": sg.quote,
                    "decision_id": d.id, "decided_by": d.actor, "decided_at": _iso(d.created_at),
                    **_period_flag(doc, period_start, period_end)})
            else:
                confirmed_elsewhere.append((sg, doc))
        elif d is None and sg.framework == framework and sg.source != "reviewer":
            suggested[sg.control_id].append({"document_id": doc.id, "filename": doc.filename,
                                             "suggestion_id": sg.id, "confidence": sg.confidence,
                                             "state": sg.state, "quote": sg.quote})
    proposed: dict[str, list[dict]] = defaultdict(list)
    reviews = edge_reviews(db, tenant_id)
    for sg, doc in confirmed_elsewhere:
        if sg.framework not in catalog.frameworks or sg.control_id not in catalog.frameworks[sg.framework].controls:
            continue
        for path in catalog.neighbours(sg.framework, sg.control_id, to_framework=framework, max_hops=2):
            verdicts = [reviews[k].verdict for k in map(_hop_key, path) if k in reviews]
            if "rejected" in verdicts:
                continue  # the tenant's admin struck this edge
            proposed[path[-1].to_id].append({"from": {"framework": sg.framework, "control_id": sg.control_id},
                                             "document_id": doc.id, "suggestion_id": sg.id,
                                             "disputed": "disputed" in verdicts,
                                             "path": [h.public() for h in path]})
    items, counts = [], defaultdict(int)
    for c in catalog.frameworks[framework].requirements():
        ev = confirmed.get(c.id, [])
        if ev:
            dated_in = [e for e in ev if e["in_period"] is not False]
            status = "confirmed" if dated_in else "confirmed_outside_period"
        elif suggested.get(c.id):
            status = "suggested"
        elif proposed.get(c.id):
            status = "proposed"
        else:
            status = "none"
        counts[status] += 1
        items.append({"control_id": c.id, "title": c.title, "status": status, "confirmed": ev,
                      "suggested": sorted(suggested.get(c.id, []), key=lambda e: -e["confidence"])[:5],
                      "proposed_via_crosswalk": proposed.get(c.id, [])[:5]})
    total = len(items)
    return {"framework": framework, "catalog_version": catalog.version,
            "period": {"start": _iso(period_start), "end": _iso(period_end)},
            "summary": {"controls": total, **{k: counts.get(k, 0) for k in
                        ("confirmed", "confirmed_outside_period", "suggested", "proposed", "none")},
                        "confirmed_ratio": round(counts.get("confirmed", 0) / total, 4) if total else 0.0},
            "items": items}


def confirmed_mappings(*, db: Database, catalog: Catalog, tenant_id: str, framework: str | None = None) -> list[dict]:
    """Every mapping whose effective decision is a confirmation, with its evidence and its decision history."""
    with db.session() as s:
        history: dict[str, list[Decision]] = defaultdict(list)
        for d in s.scalars(select(Decision).where(Decision.tenant_id == tenant_id).order_by(Decision.seq)):
            history[d.suggestion_id].append(d)
        ids = [sid for sid, ds in history.items() if ds[-1].decision in CONFIRMED]
        rows = s.execute(select(Suggestion, Document).join(Document, Document.id == Suggestion.document_id)
                         .where(Suggestion.id.in_(ids), Suggestion.tenant_id == tenant_id)).tuples().all()
    out = []
    for sg, doc in rows:
        if framework and sg.framework != framework:
            continue
        ds = history[sg.id]
        out.append({
            "framework": sg.framework, "control_id": sg.control_id,
            "control_title": _title(catalog, sg.framework, sg.control_id),
            "document_id": doc.id, "filename": doc.filename, "sha256": doc.sha256,
            "suggestion_id": sg.id, "source": sg.source, "confidence": sg.confidence, "quote": sg.quote,
            "char_start": sg.char_start, "char_end": sg.char_end, "page": sg.page, "record": sg.record_start,
            "line_start": sg.line_start, "line_end": sg.line_end,
            "evidence_date": _iso(doc.evidence_date), "evidence_start": _iso(doc.evidence_start),
            "evidence_end": _iso(doc.evidence_end),
            "decision": ds[-1].decision, "decision_id": ds[-1].id, "decided_by": ds[-1].actor,
            "decided_at": _iso(ds[-1].created_at), "comment": ds[-1].comment, "row_hash": ds[-1].row_hash,
            "classifier_version": sg.classifier_version, "catalog_version": sg.catalog_version,
            "history": [decision_public(d) for d in ds],
        })
    out.sort(key=lambda r: (r["framework"], r["control_id"], r["filename"], r["suggestion_id"]))
    return out


def _title(catalog: Catalog, framework: str, control_id: str) -> str | None:
    fw = catalog.frameworks.get(framework)
    return fw.controls[control_id].title if fw is not None and control_id in fw.controls else None


EDGE_VERDICTS = ("accepted", "disputed", "rejected")


def _edge_key(from_fw: str, from_id: str, to_fw: str, to_id: str) -> tuple[str, str, str, str]:
    """Direction-free key of a crosswalk edge (a traversal may walk it either way)."""
    a, b = (from_fw, from_id), (to_fw, to_id)
    return (*min(a, b), *max(a, b))


def _hop_key(hop) -> tuple[str, str, str, str]:
    return _edge_key(hop.from_framework, hop.from_id, hop.to_framework, hop.to_id)


def edge_reviews(db: Database, tenant_id: str) -> dict[tuple, EdgeReview]:
    """The latest review of each reviewed edge in a tenant."""
    out: dict[tuple, EdgeReview] = {}
    with db.session() as s:
        for r in s.scalars(select(EdgeReview).where(EdgeReview.tenant_id == tenant_id)
                           .order_by(EdgeReview.created_at, EdgeReview.id)):
            out[_edge_key(r.from_framework, r.from_id, r.to_framework, r.to_id)] = r
    return out


def _review_public(r: EdgeReview | None) -> dict | None:
    if r is None:
        return None
    return {"verdict": r.verdict, "comment": r.comment, "actor": r.actor, "created_at": _iso(r.created_at),
            "catalog_version": r.catalog_version}


def review_edge(*, db: Database, catalog: Catalog, principal: Principal, from_framework: str, from_id: str,
                to_framework: str, to_id: str, verdict: str, comment: str | None) -> dict:
    """An admin's verdict on a shipped crosswalk edge for this tenant: accepted, disputed or rejected."""
    key = _edge_key(from_framework, from_id, to_framework, to_id)
    edge = next((e for e in catalog.edges
                 if _edge_key(e.from_framework, e.from_id, e.to_framework, e.to_id) == key), None)
    if edge is None:
        raise ClausewiseError(ErrorCode.edge_not_found, "the catalog has no crosswalk edge between these controls",
                              **{"from": f"{from_framework} {from_id}", "to": f"{to_framework} {to_id}"})
    if verdict not in EDGE_VERDICTS:
        raise ClausewiseError(ErrorCode.validation_error, f"verdict must be one of {list(EDGE_VERDICTS)}")
    row = EdgeReview(tenant_id=principal.tenant_id, from_framework=edge.from_framework, from_id=edge.from_id,
                     to_framework=edge.to_framework, to_id=edge.to_id, verdict=verdict, comment=comment,
                     actor=principal.name, catalog_version=catalog.version)
    with db.session() as s:
        s.add(row)
    return {**_edge_public(edge), "review": _review_public(row)}


def _edge_public(e) -> dict:
    return {"from": {"framework": e.from_framework, "control_id": e.from_id},
            "to": {"framework": e.to_framework, "control_id": e.to_id}, "relationship": e.relationship,
            "provenance": e.provenance, "rationale": e.rationale}


def list_edges(*, db: Database, catalog: Catalog, tenant_id: str, framework: str | None = None,
               control_id: str | None = None, status: str | None = None) -> dict:
    """Crosswalk edges with provenance, relationship, rationale and this tenant's latest review."""
    reviews = edge_reviews(db, tenant_id)
    items = []
    for e in catalog.edges:
        if framework and framework not in (e.from_framework, e.to_framework):
            continue
        if control_id and control_id not in (e.from_id, e.to_id):
            continue
        r = reviews.get(_edge_key(e.from_framework, e.from_id, e.to_framework, e.to_id))
        state = r.verdict if r else "unreviewed"
        if status and state != status:
            continue
        items.append({**_edge_public(e), "review": _review_public(r), "status": state})
    return {"catalog_version": catalog.version, "count": len(items), "items": items}
