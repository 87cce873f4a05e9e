"""The management-system loop over HTTP against `clausewise serve` (the processes a user runs): exclude a control
→ the SoA shows it excluded; evidence dated 13 months ago for an annual control → `expired` → a corrective
action → fresh evidence → confirm → verify → the SoA shows it implemented with the new evidence; the ledger
verifies, and a changed action row is detected."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import date, timedelta

import pytest
from test_serve import Served

pytestmark = [pytest.mark.slow, pytest.mark.needs_model]
ISO = "ISO-IEC-42001-2023"


def policy(approved: date, extra: str = "") -> bytes:
    return (f"# Artificial Intelligence Policy\n\nDocument owner: Chief Risk Officer. Approved: "
            f"{approved.strftime('%d %B %Y')}.\n\n"
            "This policy sets the direction for developing and using AI systems. The board approves it and it is "
            "reviewed every year. It states our commitments to meet applicable requirements and to continually "
            "improve the AI management system, and it is communicated to all staff.\n\n" + extra).encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("gov"))
    yield s
    s.stop()


def _key(served, role, tenant="default"):
    r = served.cli("keys", "create", "--tenant", tenant, "--role", role, "--name", f"{role} of {tenant}", "--json")
    assert r.returncode == 0, r.stderr
    return {"Authorization": f"Bearer {json.loads(r.stdout)['key']}"}


def _indexed(served, name, body, headers):
    r = served.http.post("/v1/documents", files={"file": (name, body)}, headers=headers)
    assert r.status_code == 202, r.text
    doc = served.wait_document(r.json()["document_id"], timeout=240)
    assert doc["status"] == "indexed", doc
    return doc


def _add_mapping(served, doc_id, control, headers):
    chunks = served.http.get(f"/v1/documents/{doc_id}/chunks", headers=headers).json()["items"]
    text = next(ch for ch in chunks if "board approves" in ch["text"])["text"]
    quote = text[text.index("The board approves"):text.index("every year.") + len("every year.")]
    r = served.http.post(f"/v1/documents/{doc_id}/mappings", headers=headers,
                         json={"framework": ISO, "control_id": control, "quote": quote})
    assert r.status_code == 201, r.text
    return r.json()


def _soa(served, headers):
    r = served.http.get("/v1/exports/soa", params={"format": "json"}, headers=headers)
    assert r.status_code == 200, r.text
    return {row["control_id"]: row for row in r.json()["controls"]}


def test_exclude_expire_act_refresh_verify(served):
    admin = {"Authorization": f"Bearer {served.key}"}
    uploader, reviewer, auditor = (_key(served, r) for r in ("uploader", "reviewer", "auditor"))
    h = served.http

    # applicability: an exclusion needs a justification; the SoA shows it
    r = h.put("/v1/applicability/A.10.4", json={"applicable": False}, headers=admin)
    assert r.status_code == 422 and r.json()["error_code"] == "justification_required"
    assert h.put("/v1/applicability/A.10.4", json={"applicable": False, "justification": "x"},
                 headers=reviewer).status_code == 403
    r = h.put("/v1/applicability/A.10.4", headers=admin, json={
        "applicable": False, "justification": "We offer no AI system to customers.", "reason": "scope review"})
    assert r.status_code == 200, r.text
    soa = _soa(served, auditor)
    assert len(soa) == 38
    assert soa["A.10.4"]["applicable"] is False and soa["A.10.4"]["implementation_status"] == "not_applicable"
    assert soa["A.10.4"]["justification"] == "We offer no AI system to customers."

    # evidence approved 13 months ago for an annual control: expired
    old_day = date.today() - timedelta(days=396)
    old = _indexed(served, "ai-policy-2024.md", policy(old_day), uploader)
    _add_mapping(served, old["document_id"], "A.2.2", reviewer)
    cov = {i["control_id"]: i for i in h.get("/v1/coverage", headers=auditor).json()["items"]}
    a22 = cov["A.2.2"]
    assert a22["status"] == "expired" and a22["review_interval"]["days"] == 365
    assert a22["confirmed"][0]["evidence_date_source"] == "document"
    assert a22["confirmed"][0]["evidence_as_of"].startswith(old_day.isoformat())
    assert h.put(f"/v1/controls/{ISO}/A.2.2/owner", json={"owner": "AI Governance Lead"},
                 headers=admin).status_code == 200
    exp = h.get("/v1/coverage/expiring", headers=auditor).json()
    assert [(i["control_id"], i["status"], i["owner"]) for i in exp["items"]] == [
        ("A.2.2", "expired", "AI Governance Lead")]

    # a corrective action from the expired control, due yesterday: overdue
    r = h.post("/v1/actions", headers=reviewer, json={
        "statement": "The AI policy was not reviewed within twelve months.",
        "controls": [{"framework": ISO, "control_id": "A.2.2"}], "source": {"type": "expired"},
        "root_cause": "No review reminder", "action": "Review and re-approve the policy",
        "owner": "AI Governance Lead", "due_date": (date.today() - timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    action = r.json()
    assert action["state"] == "open" and action["overdue"] is True
    assert [a["id"] for a in h.get("/v1/actions", params={"overdue": "true"}, headers=auditor).json()["items"]] \
        == [action["id"]]
    cov = {i["control_id"]: i for i in h.get("/v1/coverage", headers=auditor).json()["items"]}
    assert cov["A.2.2"]["open_actions"][0]["id"] == action["id"]
    mine = h.get("/v1/owners/AI Governance Lead", headers=auditor).json()
    assert [c["control_id"] for c in mine["controls"]] == ["A.2.2"] and mine["controls"][0]["gap"]
    assert [a["id"] for a in mine["actions"]] == [action["id"]]

    tr = f"/v1/actions/{action['id']}/transitions"
    r = h.post(tr, json={"to": "verified"}, headers=reviewer)
    assert r.status_code == 409 and r.json()["error_code"] == "invalid_transition"
    for to in ("in_progress", "resolved"):
        assert h.post(tr, json={"to": to}, headers=reviewer).status_code == 200
    r = h.post(tr, json={"to": "verified"}, headers=reviewer)   # no fresh evidence yet
    assert r.status_code == 409 and r.json()["error_code"] == "fresh_evidence_required"

    # fresh evidence, confirmed: the action verifies and the SoA shows the control implemented with it
    new = _indexed(served, "ai-policy-2026.md", policy(date.today()), uploader)
    _add_mapping(served, new["document_id"], "A.2.2", reviewer)
    r = h.post(tr, json={"to": "verified", "comment": "re-approved by the board"}, headers=reviewer)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "verified" and r.json()["verified_with"][0]["document_id"] == new["document_id"]
    soa = _soa(served, auditor)
    assert soa["A.2.2"]["implementation_status"] == "implemented" and soa["A.2.2"]["coverage"] == "confirmed"
    assert soa["A.2.2"]["evidence"][0]["filename"] == "ai-policy-2026.md"
    assert soa["A.2.2"]["owner"] == "AI Governance Lead" and soa["A.2.2"]["open_actions"] == []

    # the XLSX: 38 rows, the columns, the same facts
    from openpyxl import load_workbook
    r = h.get("/v1/exports/soa", params={"format": "xlsx"}, headers=auditor)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxml")
    ws = load_workbook(io.BytesIO(r.content)).active
    header = [c.value for c in ws[1]]
    rows = {row[0]: dict(zip(header, row)) for row in ws.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 38 and rows["A.10.4"]["Applicable"] == "no"
    assert rows["A.2.2"]["Implementation status"] == "implemented" and "ai-policy-2026.md" in rows["A.2.2"][
        "Evidence (documents)"]

    # another tenant sees none of it
    other = _key(served, "admin", tenant="other-co")
    assert h.get("/v1/owners/AI Governance Lead", headers=other).json()["controls"] == []
    assert h.get(f"/v1/actions/{action['id']}", headers=other).json()["error_code"] == "action_not_found"

    # the ledger verifies; a changed action row is detected
    v = h.get("/v1/ledger/verify", headers=auditor).json()
    assert v["ok"] and v["governance_rows"] == 6, v   # exclusion, owner, opened, three moves
    with sqlite3.connect(served.data / "clausewise.db") as conn:
        conn.execute("drop trigger governance_events_no_update")
        conn.execute("update governance_events set payload = replace(payload, 'No review reminder', "
                     "'Nobody knew') where entity_id = ?", (action["id"],))
    v = h.get("/v1/ledger/verify", headers=auditor).json()
    assert not v["ok"] and {(p["chain"], p["problem"]) for p in v["problems"]} == {("governance", "row_changed")}
    r = served.cli("ledger", "verify", "--tenant", "default")
    assert r.returncode == 1 and "row_changed" in r.stdout
