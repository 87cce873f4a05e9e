"""Coverage per control (confirmed, suggested, proposed through a crosswalk, none) and the confirmed mappings
that exports are made of."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from catalog import Catalog
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Document, Suggestion
from review.decisions import CONFIRMED, decision_public, iso, latest_decisions
from review.edges import edge_reviews, hop_key
from review.govstate import GovState, control_key, evidence_date
from review.govstate import load as load_governance
from review.models import Decision
from review.queue import current_suggestions

EXPIRING_WITHIN_DAYS = 30
STATUSES = ("confirmed", "expiring", "expired", "confirmed_outside_period", "suggested", "proposed", "none")
GAP_STATUSES = ("suggested", "proposed", "none")


def review_interval(catalog: Catalog, gov: GovState, framework: str, control_id: str) -> dict:
    """A control's review interval: the workspace's override, else the catalog default for its family."""
    o = gov.intervals.get(control_key(framework, control_id))
    if o:
        return {"days": int(o["days"]), "source": "workspace", "why": o.get("reason")}
    days, why = catalog.review_interval(framework, control_id)
    return {"days": days, "source": "catalog", "why": why}


def freshness(doc: Document, interval_days: int, now: datetime, warn_days: int) -> dict:
    """When confirmed evidence stops being current: its evidence date (and where that came from) plus the
    control's review interval; `expired` past it, `expiring` within `warn_days` of it, else `current`."""
    at, source = evidence_date(doc)
    expires = at + timedelta(days=interval_days)
    state = "expired" if expires < now else "expiring" if expires < now + timedelta(days=warn_days) else "current"
    return {"evidence_as_of": at.isoformat(), "evidence_date_source": source, "expires_at": expires.isoformat(),
            "freshness": state}


def _period_flag(doc: Document, start: datetime | None, end: datetime | None) -> dict:
    lo = doc.evidence_start or doc.evidence_date
    hi = doc.evidence_end or doc.evidence_date
    lo = lo if lo is None or lo.tzinfo else lo.replace(tzinfo=UTC)
    hi = hi if hi is None or hi.tzinfo else hi.replace(tzinfo=UTC)
    out = {"evidence_date": iso(doc.evidence_date), "evidence_start": iso(lo), "evidence_end": iso(hi)}
    if start is None and end is None:
        return {**out, "in_period": None}
    if lo is None and hi is None:
        return {**out, "in_period": None, "undated": True}
    inside = (end is None or (lo or hi) <= end) and (start is None or (hi or lo) >= start)
    return {**out, "in_period": inside}


def coverage(*, db: Database, catalog: Catalog, tenant_id: str, framework: str, period_start: datetime | None = None,
             period_end: datetime | None = None, now: datetime | None = None,
             warn_days: int = EXPIRING_WITHIN_DAYS, gov: GovState | None = None) -> dict:
    """Per control: confirmed evidence (current, expiring or expired), suggested only, proposed through a
    crosswalk, or none; with its owner, applicability, review interval and open corrective actions.

    Crosswalk proposals come from confirmed evidence of another framework, with the path; they never count as
    confirmed. With an audit period, evidence dated outside it is flagged, and a control whose confirmed evidence
    all falls outside is `confirmed_outside_period`. Confirmed evidence expires at its evidence date plus the
    control's review interval: a control whose freshest confirmed evidence has expired is `expired`, one whose
    freshest evidence expires within `warn_days` is `expiring` — as of now, or as of the end of an audit period
    that has ended (was the evidence current during the period?).
    """
    if framework not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
    now = now or datetime.now(UTC)
    if period_end is not None:
        now = min(now, period_end if period_end.tzinfo else period_end.replace(tzinfo=UTC))
    gov = gov if gov is not None else load_governance(db, tenant_id)
    docs: dict[str, Document] = {}
    with db.session() as s:
        latest = latest_decisions(s, tenant_id)
        rows = current_suggestions(s, tenant_id, None)
    confirmed: dict[str, list[dict]] = defaultdict(list)
    suggested: dict[str, list[dict]] = defaultdict(list)
    confirmed_elsewhere: list[tuple[Suggestion, Document]] = []
    for sg, doc in rows:
        d = latest.get(sg.id)
        if d is not None and d.decision in CONFIRMED:
            if sg.framework == framework:
                docs[doc.id] = doc
                confirmed[sg.control_id].append({
                    "document_id": doc.id, "filename": doc.filename, "suggestion_id": sg.id, "quote": sg.quote,
                    "decision_id": d.id, "decided_by": d.actor, "decided_at": iso(d.created_at),
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
            verdicts = [reviews[k].verdict for k in map(hop_key, path) if k in reviews]
            if "rejected" in verdicts:
                continue  # the tenant's admin struck this edge
            proposed[path[-1].to_id].append({"from": {"framework": sg.framework, "control_id": sg.control_id},
                                             "document_id": doc.id, "suggestion_id": sg.id,
                                             "disputed": "disputed" in verdicts,
                                             "path": [h.public() for h in path]})
    # machine identities whose records show an NHI Top 10 risk: observed, never a confirmed control
    observed: dict[str, list[dict]] = {}
    if framework == "OWASP-NHI-TOP10-2025":
        from ingest.nhi.inventory import observed_risks
        observed = observed_risks(db, tenant_id)
    items, counts = [], defaultdict(int)
    for c in catalog.frameworks[framework].requirements():
        ev = confirmed.get(c.id, [])
        interval = review_interval(catalog, gov, framework, c.id)
        for e in ev:
            e.update(freshness(docs[e["document_id"]], interval["days"], now, warn_days))
        key = control_key(framework, c.id)
        if ev:
            dated_in = [e for e in ev if e["in_period"] is not False]
            if not dated_in:
                status = "confirmed_outside_period"
            else:
                best = max(dated_in, key=lambda e: e["expires_at"])
                status = {"current": "confirmed"}.get(best["freshness"], best["freshness"])
        elif suggested.get(c.id):
            status = "suggested"
        elif proposed.get(c.id):
            status = "proposed"
        else:
            status = "none"
        counts[status] += 1
        applic = gov.applicability.get(key)
        items.append({"control_id": c.id, "title": c.title, "status": status, "confirmed": ev,
                      "suggested": sorted(suggested.get(c.id, []), key=lambda e: -e["confidence"])[:5],
                      "proposed_via_crosswalk": proposed.get(c.id, [])[:5],
                      "owner": gov.owner_of(key), "review_interval": interval,
                      "applicable": applic["applicable"] if applic else True,
                      "exclusion_justification": applic.get("justification") if applic and not applic["applicable"]
                      else None,
                      "open_actions": [{"id": a.id, "state": a.state, "due_date": a.due_date,
                                        "overdue": a.overdue(now.date())} for a in gov.open_actions(key)],
                      "observed_in_identities": observed.get(c.id, [])[:20],
                      "observed_count": len(observed.get(c.id, []))})
    total = len(items)
    current = counts.get("confirmed", 0) + counts.get("expiring", 0)
    return {"framework": framework, "catalog_version": catalog.version,
            "period": {"start": iso(period_start), "end": iso(period_end)}, "expiring_within_days": warn_days,
            "summary": {"controls": total, **{k: counts.get(k, 0) for k in STATUSES},
                        "confirmed_ratio": round(current / total, 4) if total else 0.0},
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
    gov = load_governance(db, tenant_id)
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
            "evidence_date": iso(doc.evidence_date), "evidence_start": iso(doc.evidence_start),
            "evidence_end": iso(doc.evidence_end),
            "decision": ds[-1].decision, "decision_id": ds[-1].id, "decided_by": ds[-1].actor,
            "decided_at": iso(ds[-1].created_at), "comment": ds[-1].comment, "row_hash": ds[-1].row_hash,
            "classifier_version": sg.classifier_version, "catalog_version": sg.catalog_version,
            "history": [decision_public(d) for d in ds],
            "control_owner": (gov.owner_of(control_key(sg.framework, sg.control_id)) or {}).get("owner"),
            "document_owner": (gov.document_owners.get(doc.id) or {}).get("owner"),
        })
    out.sort(key=lambda r: (r["framework"], r["control_id"], r["filename"], r["suggestion_id"]))
    return out


def _title(catalog: Catalog, framework: str, control_id: str) -> str | None:
    fw = catalog.frameworks.get(framework)
    return fw.controls[control_id].title if fw is not None and control_id in fw.controls else None
