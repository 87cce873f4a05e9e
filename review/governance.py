"""Running the AI management system: applicability (the Statement of Applicability, ISO/IEC 42001 6.1.3), owners,
review intervals, and corrective actions (10.2), all recorded on the tenant's governance chain (`govstate`).

Clauses 4-10 always apply; each Annex A control is applicable unless excluded with a justification. An owner
(person or team, free text, optionally an API key id) answers for a control or a document. A corrective action is
opened from a coverage gap, an expired control or a mapping rejected as insufficient or stale, and moves
open -> in_progress -> resolved -> verified (or cancelled, with a reason); `verified` needs newly confirmed evidence
for every linked control, dated after the action was opened.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from sqlalchemy import select

from catalog import Catalog, FrameworkId
from core.auth import Principal
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Document, Suggestion, as_utc, new_id
from review.coverage import GAP_STATUSES, confirmed_mappings, coverage, review_interval
from review.decisions import latest_decisions
from review.edges import edge_reviews, hop_key
from review.govstate import (
    ACTION_FIELDS,
    ACTION_STATES,
    CLOSED_STATES,
    IMPLEMENTATION_STATUSES,
    GovState,
    control_key,
    events_of,
    evidence_date,
    load,
    record,
)
from review.models import ReasonCode

ISO = FrameworkId.ISO_42001.value
MAX_TEXT = 4000
# open -> in_progress -> resolved -> verified; a resolved action that fails verification goes back to work;
# any action not yet closed can be cancelled with a reason
TRANSITIONS = {
    "open": ("in_progress", "cancelled"),
    "in_progress": ("resolved", "cancelled"),
    "resolved": ("verified", "in_progress", "cancelled"),
    "verified": (),
    "cancelled": (),
}
ACTION_SOURCES = ("gap", "expired", "rejected_mapping")
REJECT_REASONS_FOR_ACTION = (ReasonCode.insufficient_evidence.value, ReasonCode.stale.value)


def _text(value: str | None, name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    value = value.strip() if isinstance(value, str) else value
    if required and not value:
        raise ClausewiseError(ErrorCode.validation_error, f"{name} is required")
    if value and len(value) > limit:
        raise ClausewiseError(ErrorCode.validation_error, f"{name} is longer than {limit} characters")
    return value or None


def _control(catalog: Catalog, framework: str, control_id: str):
    if framework not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
    c = catalog.frameworks[framework].controls.get(control_id)
    if c is None:
        raise ClausewiseError(ErrorCode.control_not_found, f"{control_id!r} is not a control of {framework}")
    return c


def annex_a(catalog: Catalog) -> list:
    return [c for c in catalog.frameworks[ISO].controls.values() if c.type == "annex_a_control"]


# --- applicability -------------------------------------------------------------------------------------------

def set_applicability(*, db: Database, catalog: Catalog, principal: Principal, control_id: str, applicable: bool,
                      justification: str | None, status: str | None, reason: str | None = None) -> dict:
    """Declare an Annex A control applicable (with its implementation status) or excluded (with a
    justification). Clauses 4-10 always apply and cannot be excluded."""
    c = _control(catalog, ISO, control_id)
    justification = _text(justification, "justification")
    if c.type != "annex_a_control":
        raise ClausewiseError(ErrorCode.not_annex_a_control,
                              f"{control_id} is a clause; clauses 4-10 always apply, only Annex A controls have "
                              "an applicability", control_id=control_id)
    if not applicable and not justification:
        raise ClausewiseError(ErrorCode.justification_required, f"excluding {control_id} needs a justification")
    if status is not None and status not in IMPLEMENTATION_STATUSES:
        raise ClausewiseError(ErrorCode.validation_error, f"status must be one of {', '.join(IMPLEMENTATION_STATUSES)}",
                              allowed=list(IMPLEMENTATION_STATUSES))
    if not applicable and status is not None:
        raise ClausewiseError(ErrorCode.validation_error, "an excluded control has no implementation status")
    payload = {"framework": ISO, "control_id": control_id, "applicable": applicable,
               "justification": justification, "status": status, "reason": _text(reason, "reason")}
    e = record(db, principal, entity_type="control", entity_id=control_key(ISO, control_id),
               event="applicability", payload=payload)
    return {**payload, "event_id": e.id, "seq": e.seq, "actor": e.actor}


def applicability(*, db: Database, catalog: Catalog, tenant_id: str) -> list[dict]:
    gov = load(db, tenant_id)
    return [_applicability_row(gov, c) for c in catalog.frameworks[ISO].requirements()]


def _applicability_row(gov: GovState, c) -> dict:
    a = gov.applicability.get(control_key(ISO, c.id)) or {}
    annex = c.type == "annex_a_control"
    return {"control_id": c.id, "title": c.title, "type": c.type, "applicable": a.get("applicable", True),
            "always_applicable": not annex, "justification": a.get("justification"), "status": a.get("status"),
            "set_by": a.get("actor"), "set_at": a.get("at")}


# --- owners and review intervals -----------------------------------------------------------------------------

def set_control_owner(*, db: Database, catalog: Catalog, principal: Principal, framework: str, control_id: str,
                      owner: str | None, owner_key_id: str | None = None, reason: str | None = None) -> dict:
    """Name who answers for a control (None clears it)."""
    _control(catalog, framework, control_id)
    payload = {"framework": framework, "control_id": control_id, "owner": _text(owner, "owner", limit=200),
               "owner_key_id": _text(owner_key_id, "owner_key_id", limit=36), "reason": _text(reason, "reason")}
    e = record(db, principal, entity_type="control", entity_id=control_key(framework, control_id), event="owner",
               payload=payload)
    return {**payload, "event_id": e.id, "seq": e.seq}


def set_document_owner(*, db: Database, principal: Principal, document_id: str, owner: str | None,
                       owner_key_id: str | None = None) -> dict:
    with db.session() as s:
        doc = s.get(Document, document_id)
        if doc is None or doc.tenant_id != principal.tenant_id:
            raise ClausewiseError(ErrorCode.document_not_found, f"document {document_id!r} not found")
    payload = {"document_id": document_id, "owner": _text(owner, "owner", limit=200),
               "owner_key_id": _text(owner_key_id, "owner_key_id", limit=36)}
    e = record(db, principal, entity_type="document", entity_id=document_id, event="owner", payload=payload)
    return {**payload, "event_id": e.id, "seq": e.seq}


def set_review_interval(*, db: Database, catalog: Catalog, principal: Principal, framework: str, control_id: str,
                        days: int | None, reason: str | None = None) -> dict:
    """Override a control's review interval for this workspace (None returns to the catalog default)."""
    _control(catalog, framework, control_id)
    if days is not None and not 1 <= days <= 3660:
        raise ClausewiseError(ErrorCode.validation_error, "days must be between 1 and 3660")
    payload = {"framework": framework, "control_id": control_id, "days": days, "reason": _text(reason, "reason")}
    e = record(db, principal, entity_type="control", entity_id=control_key(framework, control_id),
               event="review_interval", payload=payload)
    return {**payload, "event_id": e.id, "seq": e.seq}


def _owner_matches(o: dict | None, owner: str) -> bool:
    if not o:
        return False
    want = owner.strip().casefold()
    return (o.get("owner") or "").strip().casefold() == want or (o.get("owner_key_id") or "") == owner.strip()


def owner_items(*, db: Database, catalog: Catalog, tenant_id: str, owner: str) -> dict:
    """What one owner answers for in a tenant: controls (gaps and expired first), documents, actions."""
    gov = load(db, tenant_id)
    rank = {"expired": 0, "none": 1, "proposed": 2, "suggested": 3, "expiring": 4, "confirmed_outside_period": 5,
            "confirmed": 6}
    controls = []
    frameworks = {c.split(":", 1)[0] for c, o in gov.control_owners.items() if _owner_matches(o, owner)}
    for fw in sorted(frameworks):
        cov = coverage(db=db, catalog=catalog, tenant_id=tenant_id, framework=fw, gov=gov)
        for item in cov["items"]:
            if _owner_matches(gov.owner_of(control_key(fw, item["control_id"])), owner):
                controls.append({"framework": fw, "control_id": item["control_id"], "title": item["title"],
                                 "status": item["status"], "gap": item["status"] in (*GAP_STATUSES, "expired"),
                                 "applicable": item["applicable"], "open_actions": item["open_actions"]})
    controls.sort(key=lambda c: (rank.get(c["status"], 9), c["framework"], c["control_id"]))
    doc_ids = [d for d, o in gov.document_owners.items() if _owner_matches(o, owner)]
    with db.session() as s:
        docs = s.execute(select(Document.id, Document.filename, Document.status).where(
            Document.tenant_id == tenant_id, Document.id.in_(doc_ids))).all() if doc_ids else []
    actions = [a.public() for a in gov.actions.values() if _owner_matches({"owner": a.owner,
                                                                           "owner_key_id": a.owner_key_id}, owner)]
    actions.sort(key=lambda a: (a["state"] in CLOSED_STATES, not a["overdue"], a["due_date"] or "9999"))
    return {"owner": owner, "controls": controls,
            "documents": [{"document_id": d.id, "filename": d.filename, "status": d.status} for d in docs],
            "actions": actions,
            "summary": {"controls": len(controls), "gaps": sum(c["gap"] for c in controls),
                        "documents": len(docs), "open_actions": sum(a["state"] not in CLOSED_STATES
                                                                    for a in actions),
                        "overdue_actions": sum(a["overdue"] for a in actions)}}


def expiring(*, db: Database, catalog: Catalog, tenant_id: str, within_days: int = 30,
             framework: str | None = None, now: datetime | None = None) -> dict:
    """Controls whose confirmed evidence is expired or expires within `within_days`, by owner then date."""
    gov = load(db, tenant_id)
    rows = []
    for fw in [framework] if framework else [f.value for f in (FrameworkId.ISO_42001, FrameworkId.CSF_2,
                                                             FrameworkId.NHI_TOP10)]:
        cov = coverage(db=db, catalog=catalog, tenant_id=tenant_id, framework=fw, gov=gov, now=now,
                       warn_days=within_days)
        for item in cov["items"]:
            if item["status"] not in ("expiring", "expired"):
                continue
            best = max((e for e in item["confirmed"] if e["in_period"] is not False), key=lambda e: e["expires_at"])
            owner = item["owner"] or {}
            rows.append({"framework": fw, "control_id": item["control_id"], "title": item["title"],
                         "status": item["status"], "owner": owner.get("owner"),
                         "owner_key_id": owner.get("owner_key_id"), "expires_at": best["expires_at"],
                         "evidence_as_of": best["evidence_as_of"],
                         "evidence_date_source": best["evidence_date_source"],
                         "document_id": best["document_id"], "filename": best["filename"],
                         "review_interval_days": item["review_interval"]["days"],
                         "open_actions": item["open_actions"]})
    rows.sort(key=lambda r: (r["owner"] is None, (r["owner"] or "").casefold(), r["expires_at"]))
    by_owner: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_owner[r["owner"] or "(no owner)"].append(r)
    return {"within_days": within_days, "count": len(rows), "items": rows,
            "by_owner": [{"owner": k, "items": v} for k, v in by_owner.items()]}


# --- corrective actions ---------------------------------------------------------------------------------------

def _due(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ClausewiseError(ErrorCode.validation_error, f"due_date {value!r} is not an ISO 8601 date") from None


def open_action(*, db: Database, catalog: Catalog, principal: Principal, statement: str, controls: list[dict],
                source: dict, owner: str | None, due_date: str | None, root_cause: str | None = None,
                action: str | None = None, owner_key_id: str | None = None) -> dict:
    """Open a corrective action (ISO/IEC 42001 10.2) from a coverage gap, an expired control, or a mapping
    rejected as insufficient evidence or stale. Checked against the coverage as it stands now."""
    statement = _text(statement, "statement", required=True)
    kind = (source or {}).get("type")
    if kind not in ACTION_SOURCES:
        raise ClausewiseError(ErrorCode.invalid_action_source,
                              f"source.type must be one of {', '.join(ACTION_SOURCES)}", allowed=list(ACTION_SOURCES))
    tenant_id = principal.tenant_id
    src: dict = {"type": kind}
    controls = [{"framework": c.get("framework") or ISO, "control_id": c.get("control_id")} for c in controls or []]
    if kind == "rejected_mapping":
        sid = source.get("suggestion_id")
        with db.session() as s:
            sg = s.get(Suggestion, sid) if sid else None
            if sg is None or sg.tenant_id != tenant_id:
                raise ClausewiseError(ErrorCode.suggestion_not_found, f"suggestion {sid!r} not found")
            d = latest_decisions(s, tenant_id).get(sg.id)
        if d is None or d.decision != "reject" or d.reason_code not in REJECT_REASONS_FOR_ACTION:
            raise ClausewiseError(ErrorCode.invalid_action_source,
                                  "the mapping's latest decision must be a reject with reason "
                                  f"{' or '.join(REJECT_REASONS_FOR_ACTION)}", suggestion_id=sid)
        src.update(suggestion_id=sg.id, decision_id=d.id, reason_code=str(d.reason_code))
        controls = controls or [{"framework": str(sg.framework), "control_id": sg.control_id}]
    if not controls or len(controls) > 50:
        raise ClausewiseError(ErrorCode.validation_error, "name between 1 and 50 controls")
    for c in controls:
        _control(catalog, c["framework"], c["control_id"])
    controls = list({control_key(c["framework"], c["control_id"]): c for c in controls}.values())
    if kind in ("gap", "expired"):
        gov = load(db, tenant_id)
        want = (*GAP_STATUSES,) if kind == "gap" else ("expired", "expiring")
        for fw in {c["framework"] for c in controls}:
            status = {i["control_id"]: i["status"] for i in
                      coverage(db=db, catalog=catalog, tenant_id=tenant_id, framework=fw, gov=gov)["items"]}
            wrong = [c["control_id"] for c in controls
                     if c["framework"] == fw and status.get(c["control_id"]) not in want]
            if wrong:
                raise ClausewiseError(ErrorCode.invalid_action_source,
                                      f"a '{kind}' action needs controls whose coverage is {' or '.join(want)}; "
                                      f"not {', '.join(wrong)}", controls=wrong)
    action_id = new_id()
    payload = {"statement": statement, "controls": controls, "root_cause": _text(root_cause, "root_cause"),
               "action": _text(action, "action"), "owner": _text(owner, "owner", limit=200),
               "owner_key_id": _text(owner_key_id, "owner_key_id", limit=36), "due_date": _due(due_date),
               "source": src}
    record(db, principal, entity_type="action", entity_id=action_id, event="opened", payload=payload)
    return get_action(db=db, tenant_id=tenant_id, action_id=action_id)


def get_action(*, db: Database, tenant_id: str, action_id: str) -> dict:
    a = load(db, tenant_id).actions.get(action_id)
    if a is None:
        raise ClausewiseError(ErrorCode.action_not_found, f"corrective action {action_id!r} not found")
    return {**a.public(history=True), "events": events_of(db, tenant_id, "action", action_id)}


def list_actions(*, db: Database, tenant_id: str, state: str | None = None, owner: str | None = None,
                 overdue: bool | None = None, control_id: str | None = None) -> list[dict]:
    if state is not None and state not in ACTION_STATES:
        raise ClausewiseError(ErrorCode.validation_error, f"state must be one of {', '.join(ACTION_STATES)}")
    out = []
    for a in load(db, tenant_id).actions.values():
        p = a.public()
        if state and a.state != state:
            continue
        if owner and not _owner_matches({"owner": a.owner, "owner_key_id": a.owner_key_id}, owner):
            continue
        if overdue is not None and p["overdue"] != overdue:
            continue
        if control_id and control_id not in {c["control_id"] for c in a.controls}:
            continue
        out.append(p)
    out.sort(key=lambda a: (a["state"] in CLOSED_STATES, not a["overdue"], a["due_date"] or "9999", a["opened_at"]))
    return out


def fresh_evidence(*, db: Database, catalog: Catalog, tenant_id: str, controls: list[dict],
                   since: datetime) -> tuple[list[dict], list[dict]]:
    """For each control, confirmed evidence confirmed after `since` whose evidence date is on or after the day
    `since` falls on: (found, missing)."""
    rows = confirmed_mappings(db=db, catalog=catalog, tenant_id=tenant_id)
    with db.session() as s:
        docs = {d.id: d for d in s.scalars(select(Document).where(
            Document.tenant_id == tenant_id, Document.id.in_({r["document_id"] for r in rows})))} if rows else {}
    found, missing = [], []
    for c in controls:
        best = None
        for r in rows:
            if (r["framework"], r["control_id"]) != (c["framework"], c["control_id"]):
                continue
            decided = datetime.fromisoformat(r["decided_at"])
            as_of, src = evidence_date(docs[r["document_id"]])
            if decided > since and as_of.date() >= since.date() and (best is None or as_of > best[1]):
                best = (r, as_of, src)
        if best is None:
            missing.append(c)
        else:
            r, as_of, src = best
            found.append({**c, "suggestion_id": r["suggestion_id"], "document_id": r["document_id"],
                          "filename": r["filename"], "decision_id": r["decision_id"], "decided_by": r["decided_by"],
                          "evidence_as_of": as_of.isoformat(), "evidence_date_source": src})
    return found, missing


def move_action(*, db: Database, catalog: Catalog, principal: Principal, action_id: str, to: str,
                reason: str | None = None, comment: str | None = None, changes: dict | None = None) -> dict:
    """Move a corrective action to its next state, optionally editing its fields on the way."""
    tenant_id = principal.tenant_id
    gov = load(db, tenant_id)
    a = gov.actions.get(action_id)
    if a is None:
        raise ClausewiseError(ErrorCode.action_not_found, f"corrective action {action_id!r} not found")
    if to not in ACTION_STATES:
        raise ClausewiseError(ErrorCode.validation_error, f"to must be one of {', '.join(ACTION_STATES)}")
    if to not in TRANSITIONS[a.state]:
        raise ClausewiseError(ErrorCode.invalid_transition, f"a {a.state} action cannot move to {to}",
                              state=a.state, allowed=list(TRANSITIONS[a.state]))
    reason, comment = _text(reason, "reason"), _text(comment, "comment")
    if to == "cancelled" and not reason:
        raise ClausewiseError(ErrorCode.reason_required, "cancelling an action needs a reason")
    clean: dict = {}
    for k, v in (changes or {}).items():
        if k not in ACTION_FIELDS:
            raise ClausewiseError(ErrorCode.validation_error, f"{k!r} cannot be changed",
                                  allowed=list(ACTION_FIELDS))
        clean[k] = _due(v) if k == "due_date" else _text(v, k, required=k == "statement",
                                                             limit=200 if k.startswith("owner") else MAX_TEXT)
    payload: dict = {"from": a.state, "to": to, "reason": reason, "comment": comment, "changes": clean}
    if to == "verified":
        found, missing = fresh_evidence(db=db, catalog=catalog, tenant_id=tenant_id, controls=a.controls,
                                        since=as_utc(a.opened_at))
        if missing:
            raise ClausewiseError(
                ErrorCode.fresh_evidence_required,
                "verifying needs newly confirmed evidence dated on or after the day the action was opened for "
                f"every linked control; none for {', '.join(c['control_id'] for c in missing)}",
                missing=missing, opened_at=a.opened_at.isoformat())
        payload["verified_with"] = found
    record(db, principal, entity_type="action", entity_id=action_id, event="moved", payload=payload)
    return get_action(db=db, tenant_id=tenant_id, action_id=action_id)


# --- Statement of Applicability ------------------------------------------------------------------------------

def soa_rows(*, db: Database, catalog: Catalog, tenant_id: str, now: datetime | None = None) -> list[dict]:
    """One row per Annex A control: applicability, justification, implementation status (declared, else read
    from the evidence), owner, freshness, the confirmed evidence and the CSF 2.0 / NHI items that evidence also
    covers through the crosswalk, open corrective actions."""
    now = now or datetime.now(UTC)
    gov = load(db, tenant_id)
    cov = {i["control_id"]: i for i in coverage(db=db, catalog=catalog, tenant_id=tenant_id, framework=ISO,
                                                gov=gov, now=now)["items"]}
    mappings = defaultdict(list)
    for m in confirmed_mappings(db=db, catalog=catalog, tenant_id=tenant_id, framework=ISO):
        mappings[m["control_id"]].append(m)
    reviews = edge_reviews(db, tenant_id)
    out = []
    for c in annex_a(catalog):
        item = cov[c.id]
        key = control_key(ISO, c.id)
        a = gov.applicability.get(key) or {}
        applicable = a.get("applicable", True)
        ev_by_suggestion = {e["suggestion_id"]: e for e in item["confirmed"]}
        evidence = []
        for m in mappings.get(c.id, []):
            e = ev_by_suggestion.get(m["suggestion_id"], {})
            evidence.append({"document_id": m["document_id"], "filename": m["filename"], "quote": m["quote"],
                             "evidence_date": e.get("evidence_as_of"),
                             "evidence_date_source": e.get("evidence_date_source"),
                             "expires_at": e.get("expires_at"), "freshness": e.get("freshness"),
                             "reviewer": m["decided_by"], "decided_at": m["decided_at"],
                             "decision_id": m["decision_id"]})
        evidence.sort(key=lambda e: e["evidence_date"] or "", reverse=True)
        also: dict[str, set] = {FrameworkId.CSF_2.value: set(), FrameworkId.NHI_TOP10.value: set()}
        if evidence:
            for fw in also:
                for path in catalog.neighbours(ISO, c.id, to_framework=fw, max_hops=2):
                    if any(reviews[k].verdict == "rejected" for k in map(hop_key, path) if k in reviews):
                        continue
                    also[fw].add(path[-1].to_id)
        declared = a.get("status") if applicable else None
        if not applicable:
            status, status_source = "not_applicable", "declared"
        elif declared:
            status, status_source = declared, "declared"
        else:
            status_source = "evidence"
            status = {"confirmed": "implemented", "expiring": "implemented", "expired": "partially_implemented",
                      "confirmed_outside_period": "partially_implemented",
                      "suggested": "planned", "proposed": "planned", "none": "planned"}[item["status"]]
        owner = gov.owner_of(key) or {}
        out.append({
            "control_id": c.id, "title": c.title, "objective": c.parent, "applicable": applicable,
            "justification": a.get("justification"), "implementation_status": status,
            "status_source": status_source, "coverage": item["status"], "owner": owner.get("owner"),
            "owner_key_id": owner.get("owner_key_id"), "review_interval_days": item["review_interval"]["days"],
            "evidence": evidence, "also_covers_csf": sorted(also[FrameworkId.CSF_2.value]),
            "also_covers_nhi": sorted(also[FrameworkId.NHI_TOP10.value],
                                      key=lambda x: int(x[3:]) if x[3:].isdigit() else 99),
            "open_actions": [x["id"] for x in item["open_actions"]],
            "applicability_set_by": a.get("actor"), "applicability_set_at": a.get("at"),
        })
    return out


__all__ = [
    "ACTION_STATES", "IMPLEMENTATION_STATUSES", "TRANSITIONS", "annex_a", "applicability", "expiring",
    "fresh_evidence", "get_action", "list_actions", "move_action", "open_action", "owner_items",
    "review_interval", "set_applicability", "set_control_owner", "set_document_owner", "set_review_interval",
    "soa_rows",
]
