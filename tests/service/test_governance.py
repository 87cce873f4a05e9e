"""Governance rules on hand-made evidence: applicability, owners, review intervals and freshness, corrective
action transitions, the SoA rows and exports, and the governance chain's tamper evidence."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from catalog import load_catalog
from core.auth import Principal, ensure_tenant
from core.errors import ClausewiseError
from core.models import DEFAULT_TENANT_ID, Document, Role, Suggestion, new_id
from review import coverage as review_coverage
from review import governance, ledger, soa

ISO, CSF = "ISO-IEC-42001-2023", "NIST-CSF-2.0"
NOW = datetime.now(UTC)



def admin(tenant_id=DEFAULT_TENANT_ID, name="admin one"):
    return Principal(key_id=new_id(), name=name, role=Role.admin, tenant_id=tenant_id)


def _doc(db, name, *, evidence_date=None, read=None, tenant_id=DEFAULT_TENANT_ID):
    meta = {"evidence_read": {"at": read.isoformat(), "from": "text"}} if read else {}
    doc = Document(id=new_id(), tenant_id=tenant_id, sha256=new_id().replace("-", "").ljust(64, "0"),
                   size_bytes=1, filename=name, detected_type="text/plain", storage_key="k", status="indexed",
                   classification_run_id="run-" + name, evidence_date=evidence_date, meta=meta)
    with db.session() as s:
        s.add(doc)
    return doc


def _confirmed(db, doc, control, quote="The AI policy is approved by the board.", framework=ISO,
               decision="confirm", reason=None, tenant_id=DEFAULT_TENANT_ID):
    sg = Suggestion(id=new_id(), tenant_id=tenant_id, document_id=doc.id, run_id=doc.classification_run_id,
                    framework=framework, control_id=control, rank=1, raw_score=0.9, confidence=0.9,
                    state="suggested", source="retrieval", quote=quote, features={}, classifier_version="v",
                    embedder_id="e", catalog_version="c", config_hash="h")
    with db.session() as s:
        s.add(sg)
    ledger.append(db, tenant_id=tenant_id, suggestion=sg, decision=decision, actor="reviewer", actor_key_id=None,
                  reason_code=reason)
    return sg


def _status(db, control, framework=ISO, **kw):
    cov = review_coverage.coverage(db=db, catalog=load_catalog(), tenant_id=DEFAULT_TENANT_ID, framework=framework,
                                   **kw)
    return next(i for i in cov["items"] if i["control_id"] == control)


def test_applicability_rules_and_history(db):
    cat = load_catalog()
    with pytest.raises(ClausewiseError) as e:
        governance.set_applicability(db=db, catalog=cat, principal=admin(), control_id="A.10.4", applicable=False,
                                     justification="  ", status=None)
    assert e.value.code.value == "justification_required"
    with pytest.raises(ClausewiseError) as e:
        governance.set_applicability(db=db, catalog=cat, principal=admin(), control_id="6.1.3", applicable=False,
                                     justification="no", status=None)
    assert e.value.code.value == "not_annex_a_control"
    with pytest.raises(ClausewiseError) as e:
        governance.set_applicability(db=db, catalog=cat, principal=admin(), control_id="A.99", applicable=True,
                                     justification=None, status=None)
    assert e.value.code.value == "control_not_found"
    governance.set_applicability(db=db, catalog=cat, principal=admin(), control_id="A.10.4", applicable=False,
                                 justification="No AI system is offered to customers.", status=None)
    governance.set_applicability(db=db, catalog=cat, principal=admin(name="admin two"), control_id="A.10.4",
                                 applicable=True, justification=None, status="planned", reason="new product line")
    rows = {r["control_id"]: r for r in governance.applicability(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID)}
    assert rows["A.10.4"]["applicable"] and rows["A.10.4"]["status"] == "planned"
    assert rows["A.10.4"]["set_by"] == "admin two"
    assert rows["4.1"]["always_applicable"] and rows["4.1"]["applicable"]
    # both changes stay on the chain, with who and why
    events = [json.loads(p) for (p,) in sqlite3.connect(db.engine.url.database).execute(
        "select payload from governance_events order by seq")]
    assert [e["applicable"] for e in events] == [False, True] and events[1]["reason"] == "new product line"


def test_freshness_from_the_stated_date_else_the_upload_form_else_the_upload(db):
    cat = load_catalog()
    old = _doc(db, "policy-2024.md", read=NOW - timedelta(days=400), evidence_date=NOW)  # the text wins
    _confirmed(db, old, "A.2.2")
    item = _status(db, "A.2.2")
    assert item["status"] == "expired" and item["review_interval"] == {
        "days": 365, "source": "catalog", "why": cat.review_interval(ISO, "A.2.2")[1]}
    assert item["confirmed"][0]["evidence_date_source"] == "document"
    # within 30 days of expiry: expiring (and the window is configurable)
    soon = _doc(db, "policy-2025.md", evidence_date=NOW - timedelta(days=350))
    _confirmed(db, soon, "A.2.2")
    item = _status(db, "A.2.2")
    assert item["status"] == "expiring"
    assert {e["evidence_date_source"] for e in item["confirmed"]} == {"document", "upload_form"}
    assert _status(db, "A.2.2", warn_days=10)["status"] == "confirmed"
    # a workspace override of the interval: quarterly makes the same evidence expired
    governance.set_review_interval(db=db, catalog=cat, principal=admin(), framework=ISO, control_id="A.2.2", days=90)
    assert _status(db, "A.2.2")["status"] == "expired"
    governance.set_review_interval(db=db, catalog=cat, principal=admin(), framework=ISO, control_id="A.2.2",
                                   days=None)
    assert _status(db, "A.2.2")["review_interval"]["source"] == "catalog"
    # no date anywhere: the upload date, said so
    undated = _doc(db, "procedure.md")
    _confirmed(db, undated, "A.6.2.4")
    item = _status(db, "A.6.2.4")
    assert item["status"] == "confirmed" and item["confirmed"][0]["evidence_date_source"] == "upload"
    listing = governance.expiring(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, within_days=30)
    assert [(r["control_id"], r["status"]) for r in listing["items"]] == [("A.2.2", "expiring")]


def test_action_transitions_overdue_cancel_and_verify_needs_fresh_evidence(db):
    cat = load_catalog()
    p = admin()
    with pytest.raises(ClausewiseError) as e:   # A.5.2 has no evidence: not expired
        governance.open_action(db=db, catalog=cat, principal=p, statement="x", controls=[
            {"framework": ISO, "control_id": "A.5.2"}], source={"type": "expired"}, owner=None, due_date=None)
    assert e.value.code.value == "invalid_action_source"
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    act = governance.open_action(db=db, catalog=cat, principal=p, statement="No impact assessment process",
                                 controls=[{"framework": ISO, "control_id": "A.5.2"}], source={"type": "gap"},
                                 owner="Risk Team", due_date=yesterday)
    assert act["state"] == "open" and act["overdue"] is True
    assert [a["id"] for a in governance.list_actions(db=db, tenant_id=DEFAULT_TENANT_ID, overdue=True)] == [act["id"]]
    assert _status(db, "A.5.2")["open_actions"][0]["id"] == act["id"]
    with pytest.raises(ClausewiseError) as e:
        governance.move_action(db=db, catalog=cat, principal=p, action_id=act["id"], to="verified")
    assert e.value.code.value == "invalid_transition" and e.value.extra["allowed"] == ["in_progress", "cancelled"]
    for to in ("in_progress", "resolved"):
        governance.move_action(db=db, catalog=cat, principal=p, action_id=act["id"], to=to)
    # evidence from before the action was opened does not verify it
    before = _doc(db, "old-ia.md", read=NOW - timedelta(days=3))
    _confirmed(db, before, "A.5.2")
    with pytest.raises(ClausewiseError) as e:
        governance.move_action(db=db, catalog=cat, principal=p, action_id=act["id"], to="verified")
    assert e.value.code.value == "fresh_evidence_required"
    assert e.value.extra["missing"] == [{"framework": ISO, "control_id": "A.5.2"}]
    fresh = _doc(db, "ia-process.md")
    sg = _confirmed(db, fresh, "A.5.2")
    done = governance.move_action(db=db, catalog=cat, principal=p, action_id=act["id"], to="verified",
                                  comment="process approved")
    assert done["state"] == "verified" and not done["overdue"]
    assert done["verified_with"][0]["suggestion_id"] == sg.id
    assert [h["event"] for h in done["history"]] == ["opened", "moved", "moved", "moved"]
    with pytest.raises(ClausewiseError) as e:
        governance.move_action(db=db, catalog=cat, principal=p, action_id=act["id"], to="cancelled", reason="x")
    assert e.value.code.value == "invalid_transition"
    # cancelling needs a reason
    other = governance.open_action(db=db, catalog=cat, principal=p, statement="gap", controls=[
        {"framework": ISO, "control_id": "A.7.5"}], source={"type": "gap"}, owner=None, due_date=None)
    with pytest.raises(ClausewiseError) as e:
        governance.move_action(db=db, catalog=cat, principal=p, action_id=other["id"], to="cancelled")
    assert e.value.code.value == "reason_required"
    why = "duplicate of another action"
    assert governance.move_action(db=db, catalog=cat, principal=p, action_id=other["id"], to="cancelled",
                                  reason=why)["closed_reason"] == why


def test_action_from_a_rejected_mapping_only_for_insufficient_or_stale(db):
    cat = load_catalog()
    doc = _doc(db, "access.csv")
    wrong = _confirmed(db, doc, "A.3.2", decision="reject", reason="wrong_control")
    stale = _confirmed(db, doc, "A.4.6", decision="reject", reason="stale")
    with pytest.raises(ClausewiseError) as e:
        governance.open_action(db=db, catalog=cat, principal=admin(), statement="x", controls=[],
                               source={"type": "rejected_mapping", "suggestion_id": wrong.id}, owner=None,
                               due_date=None)
    assert e.value.code.value == "invalid_action_source"
    act = governance.open_action(db=db, catalog=cat, principal=admin(), statement="Training records out of date",
                                 controls=[], source={"type": "rejected_mapping", "suggestion_id": stale.id},
                                 owner="HR", due_date=None)
    assert act["controls"] == [{"framework": ISO, "control_id": "A.4.6"}]
    assert act["source"]["reason_code"] == "stale"


def test_owner_listing_is_the_owners_and_the_tenants_only(db):
    cat = load_catalog()
    other_tenant = ensure_tenant(db, "other").id
    governance.set_control_owner(db=db, catalog=cat, principal=admin(), framework=ISO, control_id="A.2.2",
                                 owner="AI Governance Lead")
    governance.set_control_owner(db=db, catalog=cat, principal=admin(), framework=CSF, control_id="GV.PO-01",
                                 owner="ai governance lead")
    governance.set_control_owner(db=db, catalog=cat, principal=admin(), framework=ISO, control_id="A.3.2",
                                 owner="HR")
    governance.set_control_owner(db=db, catalog=cat, principal=admin(other_tenant), framework=ISO,
                                 control_id="A.9.2", owner="AI Governance Lead")
    doc = _doc(db, "policy.md")
    governance.set_document_owner(db=db, principal=admin(), document_id=doc.id, owner="AI Governance Lead")
    with pytest.raises(ClausewiseError):   # another tenant's document
        governance.set_document_owner(db=db, principal=admin(other_tenant), document_id=doc.id, owner="x")
    _confirmed(db, doc, "A.2.2")
    got = governance.owner_items(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, owner="AI Governance Lead")
    assert [(c["framework"], c["control_id"]) for c in got["controls"]] == [(CSF, "GV.PO-01"), (ISO, "A.2.2")]
    assert got["controls"][0]["gap"] and not got["controls"][1]["gap"]   # gaps first
    assert [d["document_id"] for d in got["documents"]] == [doc.id]
    theirs = governance.owner_items(db=db, catalog=cat, tenant_id=other_tenant, owner="AI Governance Lead")
    assert [c["control_id"] for c in theirs["controls"]] == ["A.9.2"] and theirs["documents"] == []


def test_soa_has_every_annex_a_control_and_neutralises_formulas(db):
    from openpyxl import load_workbook

    cat = load_catalog()
    governance.set_applicability(db=db, catalog=cat, principal=admin(), control_id="A.10.4", applicable=False,
                                 justification="@SUM(1+1) no customers", status=None)
    governance.set_control_owner(db=db, catalog=cat, principal=admin(), framework=ISO, control_id="A.2.2",
                                 owner="=HYPERLINK(\"http://x.test\",\"click\")")
    doc = _doc(db, "policy.md")
    _confirmed(db, doc, "A.2.2", quote="-1+1 the policy is approved")
    rows = governance.soa_rows(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID)
    assert len(rows) == 38 == len({r["control_id"] for r in rows})
    by = {r["control_id"]: r for r in rows}
    assert by["A.10.4"]["implementation_status"] == "not_applicable" and not by["A.10.4"]["applicable"]
    assert by["A.2.2"]["implementation_status"] == "implemented" and by["A.2.2"]["status_source"] == "evidence"
    assert by["A.2.2"]["also_covers_csf"] and by["A.5.2"]["implementation_status"] == "planned"
    wb = load_workbook(io.BytesIO(soa.to_xlsx(rows, title="SoA")))
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header == [label for _, label, _ in soa.COLUMNS] and ws.freeze_panes == "B2" and ws.auto_filter.ref
    assert ws.max_row == 39
    cells = [c.value for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert not [v for v in cells if v[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(\"http://x.test\",\"click\")" in cells and "'@SUM(1+1) no customers" in cells
    text = soa.to_csv(rows)
    assert "\n'=HYPERLINK" not in text and "'=HYPERLINK" in text


def test_oscal_soa_validates_against_the_model(db):
    from trestle.oscal.component import ComponentDefinition

    cat = load_catalog()
    governance.set_applicability(db=db, catalog=cat, principal=admin(), control_id="A.10.4", applicable=False,
                                 justification="No customers.", status=None)
    _confirmed(db, _doc(db, "policy.md"), "A.2.2")
    body = soa.to_oscal(governance.soa_rows(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID), db=db,
                        tenant_id=DEFAULT_TENANT_ID, catalog=cat)
    model = ComponentDefinition.model_validate(body["component-definition"])
    reqs = model.components[0].control_implementations[0].implemented_requirements
    assert len(reqs) == 38
    status = {r.control_id: next(p.value for p in r.props if p.name == "implementation-status") for r in reqs}
    assert status["iso42001-a.10.4"] == "not-applicable" and status["iso42001-a.2.2"] == "implemented"


def test_governance_chain_detects_a_changed_row(db):
    cat = load_catalog()
    act = governance.open_action(db=db, catalog=cat, principal=admin(), statement="gap", controls=[
        {"framework": ISO, "control_id": "A.7.5"}], source={"type": "gap"}, owner="Data", due_date=None)
    governance.move_action(db=db, catalog=cat, principal=admin(), action_id=act["id"], to="in_progress")
    assert ledger.verify(db, DEFAULT_TENANT_ID).public()["ok"]
    conn = sqlite3.connect(db.engine.url.database)
    with pytest.raises(sqlite3.DatabaseError):   # the triggers refuse
        conn.execute("update governance_events set payload = '{}' where entity_id = ?", (act["id"],))
    conn.execute("drop trigger governance_events_no_update")
    conn.execute("update governance_events set payload = replace(payload, 'Data', 'Nobody') where entity_id = ? "
                 "and event = 'opened'", (act["id"],))
    conn.commit()
    v = ledger.verify(db, DEFAULT_TENANT_ID).public()
    assert not v["ok"] and v["governance_rows"] == 2
    assert [(p["chain"], p["problem"], p["entity_id"]) for p in v["problems"]] == [
        ("governance", "row_changed", act["id"])]
