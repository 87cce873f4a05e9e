"""Review workflow over HTTP: every route x role, the whole reviewer path, coverage, exports, tenant isolation."""

from __future__ import annotations

import csv
import io
import json
import random
import re

import pytest
from conftest import FIXTURES, bearer, ingest_file, make_key, wait_for_document
from fastapi.testclient import TestClient

ISO, CSF, NHI = "ISO-IEC-42001-2023", "NIST-CSF-2.0", "OWASP-NHI-TOP10-2025"
ROLES = ("uploader", "reviewer", "auditor", "admin")
MISSING = "00000000-0000-0000-0000-00000000dead"
PARAMS = {"framework": ISO, "control_id": "A.2.2", "document_id": MISSING, "job_id": MISSING,
          "suggestion_id": MISSING, "run_id": MISSING, "key_id": MISSING, "action_id": MISSING,
          "owner": "Nobody In Particular", "identity_id": "0" * 20}


def test_every_route_answers_each_role_as_designed(migrated_settings):
    from api.app import PUBLIC_PATHS, create_app

    app = create_app(migrated_settings)
    keys = {r: make_key(migrated_settings, r) for r in ROLES}
    revoked = make_key(migrated_settings, "admin")
    policies = app.state.route_policies
    operations = [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]
    # every operation the API publishes is either public or has a declared policy
    assert {op for op in operations if op not in PUBLIC_PATHS} == set(policies)
    assert len(policies) >= 20
    checked = 0
    with TestClient(app) as c:
        admin_keys = c.get("/v1/keys", headers=bearer(keys["admin"])).json()["items"]
        revoked_id = next(k["id"] for k in admin_keys if k["prefix"] == revoked[:10])
        assert c.delete(f"/v1/keys/{revoked_id}", headers=bearer(keys["admin"])).status_code == 200
        for method, path in sorted(operations):
            url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
            kw = {"params": {"q": "access review"}} if path == "/v1/search" else {}
            if (method, path) in PUBLIC_PATHS:
                assert c.request(method, url).status_code == 200, (method, path)
                continue
            for headers, label in (({}, "no key"), (bearer("cw_not-a-key"), "unknown key"),
                                   (bearer(revoked), "revoked key")):
                r = c.request(method, url, headers=headers, **kw)
                assert r.status_code == 401 and r.json()["error_code"] == "unauthenticated", (method, path, label)
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
            for role in ROLES:
                r = c.request(method, url, headers={"X-API-Key": keys[role]}, **kw)
                if role in {x.value for x in policies[(method, path)]}:
                    assert r.status_code not in (401, 403) and r.status_code < 500, (method, path, role, r.text)
                else:
                    assert r.status_code == 403 and r.json()["error_code"] == "forbidden", (method, path, role)
                checked += 1
    assert checked == 4 * len(policies)


@pytest.fixture
def review_app(eager_settings):
    """The app with jobs in-process, an admin and one key per role; documents uploaded by the uploader."""
    from api.app import create_app
    from ingest.partition import warm_up

    warm_up()
    settings = eager_settings.model_copy(update={"four_eyes": True})
    with TestClient(create_app(settings)) as c:
        admin = make_key(settings, "admin")
        keys = {"admin": admin}
        for role in ("uploader", "reviewer", "auditor"):
            r = c.post("/v1/keys", json={"role": role, "name": f"{role} one"}, headers=bearer(admin))
            assert r.status_code == 201 and r.json()["key"].startswith("cw_")
            keys[role] = r.json()["key"]
        yield c, keys, settings


def _upload(c, key, name, evidence_date=None):
    data = {"evidence_date": evidence_date} if evidence_date else {}
    r = c.post("/v1/documents", files={"file": (name, (FIXTURES / name).read_bytes())}, data=data,
               headers=bearer(key))
    assert r.status_code == 202, r.text
    doc = wait_for_document(_Authed(c, key), r.json()["document_id"])
    assert doc["status"] == "indexed", doc
    return doc


class _Authed:
    def __init__(self, c, key):
        self.c, self.h = c, bearer(key)

    def get(self, url, **kw):
        return self.c.get(url, headers=self.h, **kw)


def test_upload_suggest_confirm_reject_add_coverage_and_exports(review_app, tmp_path, monkeypatch):
    c, keys, settings = review_app
    up, rev, aud, adm = (bearer(keys[r]) for r in ("uploader", "reviewer", "auditor", "admin"))
    doc = _upload(c, keys["uploader"], "KHA-STD-DATA-007_training_audio_retention_and_lineage.md", "2025-03-01")
    doc_id = doc["document_id"]
    sugg = c.get(f"/v1/documents/{doc_id}/suggestions", params={"framework": ISO}, headers=up).json()["items"]
    assert len(sugg) >= 3 and all(s["evidence"]["quote"] for s in sugg)
    first, second = sugg[0], sugg[1]

    # a reject needs a reason; an uploader may not decide
    r = c.post(f"/v1/suggestions/{second['suggestion_id']}/decisions", json={"decision": "reject"}, headers=rev)
    assert r.status_code == 422 and r.json()["error_code"] == "reason_required"
    assert c.post(f"/v1/suggestions/{first['suggestion_id']}/decisions", json={"decision": "confirm"},
                  headers=up).status_code == 403

    r = c.post(f"/v1/suggestions/{first['suggestion_id']}/decisions",
               json={"decision": "confirm", "comment": "retention schedule is explicit"}, headers=rev)
    assert r.status_code == 201, r.text
    confirm = r.json()
    assert confirm["actor"] == "reviewer one" and confirm["classifier_version"] == first["classifier_version"]["id"]
    r = c.post(f"/v1/suggestions/{second['suggestion_id']}/decisions",
               json={"decision": "reject", "reason_code": "wrong_control", "comment": "not about this"}, headers=rev)
    assert r.status_code == 201 and r.json()["reason_code"] == "wrong_control"

    # add a mapping the classifier did not make, quoting the document at checked offsets
    chunks = c.get(f"/v1/documents/{doc_id}/chunks", headers=rev).json()["items"]
    chunk = max(chunks, key=lambda ch: len(ch["text"]))
    sentence = chunk["text"].strip().split("\n")[0][:160].strip()
    start = chunk["char_start"] + chunk["text"].index(sentence)
    suggested = [s["control_id"] for s in c.get(f"/v1/documents/{doc_id}/suggestions",
                                                params={"framework": NHI}, headers=rev).json()["items"]]
    catalog_nhi = [x["control_id"] for x in c.get(f"/v1/catalog/frameworks/{NHI}/controls", headers=rev)
                   .json()["items"]]
    # one the classifier did not suggest, else its least likely one
    nhi_control = next((x for x in catalog_nhi if x not in suggested), suggested[-1] if suggested else catalog_nhi[0])
    bad = c.post(f"/v1/documents/{doc_id}/mappings", headers=rev, json={
        "framework": NHI, "control_id": nhi_control, "quote": "words that are nowhere in this file at all"})
    assert bad.status_code == 422 and bad.json()["error_code"] == "quote_not_found"
    bad = c.post(f"/v1/documents/{doc_id}/mappings", headers=rev, json={
        "framework": NHI, "control_id": nhi_control, "quote": sentence, "char_start": start + 3,
        "char_end": start + 3 + len(sentence)})
    assert bad.status_code == 422 and bad.json()["error_code"] == "invalid_offsets"
    r = c.post(f"/v1/documents/{doc_id}/mappings", headers=rev, json={
        "framework": NHI, "control_id": nhi_control, "quote": sentence, "char_start": start,
        "char_end": start + len(sentence), "comment": "secrets handling"})
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["suggestion"]["source"] == "reviewer" and added["decision"]["decision"] == "add"
    assert added["suggestion"]["evidence"]["char_start"] == start

    # coverage: confirmed with its quote, the rejected one not confirmed, CSF proposed through the crosswalk
    cov = c.get("/v1/coverage", params={"framework": ISO}, headers=aud).json()
    by_id = {i["control_id"]: i for i in cov["items"]}
    # evidence dated 2025-03-01 is past most review intervals today: confirmed, and expired or not by its date
    evidenced = ("confirmed", "expiring", "expired")
    assert by_id[first["control_id"]]["status"] in evidenced
    assert by_id[first["control_id"]]["confirmed"][0]["quote"] == first["evidence"]["quote"]
    assert by_id[second["control_id"]]["status"] not in evidenced
    assert sum(cov["summary"][k] for k in evidenced) >= 1
    nhi_cov = {i["control_id"]: i for i in c.get("/v1/coverage", params={"framework": NHI}, headers=aud)
               .json()["items"]}
    assert nhi_cov[nhi_control]["status"] in evidenced
    csf = c.get("/v1/coverage", params={"framework": CSF}, headers=aud).json()
    proposed = [i for i in csf["items"] if any(p["from"]["control_id"] == first["control_id"]
                                               for p in i["proposed_via_crosswalk"])]
    assert proposed, "the confirmed ISO control should propose CSF coverage through the crosswalk"
    assert all(i["status"] not in evidenced or i["confirmed"] for i in csf["items"])
    assert all(p["path"] for i in proposed for p in i["proposed_via_crosswalk"])
    # an audit period that the evidence date falls outside of is flagged
    cov = c.get("/v1/coverage", params={"framework": ISO, "period_start": "2026-01-01",
                                        "period_end": "2026-12-31"}, headers=aud).json()
    item = {i["control_id"]: i for i in cov["items"]}[first["control_id"]]
    assert item["status"] == "confirmed_outside_period" and item["confirmed"][0]["in_period"] is False

    # decided suggestions leave the review queue; gaps come first
    queue = c.get("/v1/review-queue", headers=rev).json()
    queued = {i["suggestion_id"] for i in queue["items"]}
    assert first["suggestion_id"] not in queued and second["suggestion_id"] not in queued
    gaps = [i["coverage_gap"] for i in queue["items"]]
    assert gaps == sorted(gaps, reverse=True)

    # exports: auditors get CSV, JSON and OSCAL with the confirmed and added mappings, not the rejected one
    assert c.get("/v1/exports/mappings", params={"format": "csv"}, headers=rev).status_code == 403
    text = c.get("/v1/exports/mappings", params={"format": "csv"}, headers=aud).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {(r["framework"], r["control_id"]) for r in rows} == {(ISO, first["control_id"]), (NHI, nhi_control)}
    confirmed_row = next(r for r in rows if r["control_id"] == first["control_id"])
    assert confirmed_row["quote"].lstrip("'") == first["evidence"]["quote"]
    assert confirmed_row["decided_by"] == "reviewer one" and confirmed_row["row_hash"] == confirm["row_hash"]
    js = c.get("/v1/exports/mappings", headers=aud).json()
    assert js["count"] == 2 and js["ledger_head"]["seq"] == 3
    oscal = c.get("/v1/exports/oscal", headers=aud).json()
    from trestle.oscal.assessment_results import AssessmentResults

    model = AssessmentResults.model_validate(oscal["assessment-results"])
    result = model.results[0]
    assert len(result.observations) == 2 and len(result.findings) == 2
    assert any(first["evidence"]["quote"][:200] in o.description for o in result.observations)
    assert {f.target.target_id for f in result.findings} == {
        f"iso42001-{first['control_id']}".lower(), f"nhi-{nhi_control}".lower()}

    # a later decision supersedes and keeps the earlier one
    r = c.post(f"/v1/suggestions/{first['suggestion_id']}/decisions",
               json={"decision": "reject", "reason_code": "stale"}, headers=rev)
    assert r.status_code == 201 and r.json()["supersedes"] == confirm["decision_id"]
    detail = c.get(f"/v1/suggestions/{first['suggestion_id']}", headers=aud).json()
    assert [d["decision"] for d in detail["decisions"]] == ["confirm", "reject"]
    assert detail["current_decision"] == "reject"
    assert c.get("/v1/exports/mappings", headers=aud).json()["count"] == 1
    v = c.get("/v1/ledger/verify", headers=aud).json()
    assert v["ok"] is True and v["rows"] == 4

    # the decisions become a labelled set in the evaluation format
    from typer.testing import CliRunner

    from api.cli import app as cli

    monkeypatch.setenv("CLAUSEWISE_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "labels.jsonl"
    res = CliRunner().invoke(cli, ["export-labels", "--out", str(out)])
    assert res.exit_code == 0, res.output
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == 1 and items[0]["id"] == doc_id and items[0]["text"]
    assert items[0]["labels"]["nhi"] == [nhi_control] and items[0]["labels"]["iso42001"] == []
    assert {(d["control_id"], d["decision"]) for d in items[0]["decisions"]} == {
        (first["control_id"], "reject"), (second["control_id"], "reject"), (nhi_control, "confirm")}


def test_four_eyes_rule_stops_self_confirmation(review_app):
    c, keys, _ = review_app
    doc = _upload(c, keys["admin"], "jira_SECOPS-842_rotate_transcription_sp_secret.json")
    sg = c.get(f"/v1/documents/{doc['document_id']}/suggestions", headers=bearer(keys["admin"])).json()["items"][0]
    r = c.post(f"/v1/suggestions/{sg['suggestion_id']}/decisions", json={"decision": "confirm"},
               headers=bearer(keys["admin"]))
    assert r.status_code == 403 and r.json()["error_code"] == "four_eyes_violation"
    r = c.post(f"/v1/suggestions/{sg['suggestion_id']}/decisions", json={"decision": "confirm"},
               headers=bearer(keys["reviewer"]))
    assert r.status_code == 201


def test_tenant_isolation_over_a_thousand_searches_and_listings(runtime):
    """Two tenants with their own evidence: nothing of tenant B ever appears in tenant A's answers."""
    from api.app import create_app
    from core.auth import ensure_tenant
    from core.vectors import collection_name
    from worker.flows import classify

    a = ensure_tenant(runtime.db, "acme").id
    b = ensure_tenant(runtime.db, "globex").id
    files_a = ["KHA-STD-DATA-007_training_audio_retention_and_lineage.md", "mlp-train-gpu-04_auth.log"]
    files_b = ["jira_SECOPS-842_rotate_transcription_sp_secret.json",
               "github_aerie-infra_issue_318_stale_workload_identity.json"]
    docs = {}
    for tenant, files in ((a, files_a), (b, files_b)):
        for name in files:
            d = ingest_file(runtime, FIXTURES / name, tenant_id=tenant)
            assert d["status"] == "indexed"
            classify(runtime, tenant, d["document_id"])
            docs.setdefault(tenant, []).append(d)
    assert collection_name(a) != collection_name(b)
    key_a = make_key(runtime.settings, "admin", tenant="acme")
    key_b = make_key(runtime.settings, "reviewer", tenant="globex")
    with TestClient(create_app(runtime.settings, db=runtime.db), headers=bearer(key_a)) as c:
        b_docs = [d["document_id"] for d in docs[b]]
        b_sugg = [s["suggestion_id"] for d in b_docs for s in c.get(
            f"/v1/documents/{d}/suggestions", headers=bearer(key_b)).json()["items"]]
        b_chunks = [ch["chunk_id"] for d in b_docs for ch in c.get(
            f"/v1/documents/{d}/chunks", headers=bearer(key_b)).json()["items"]]
        secrets_of_b = set(b_docs) | set(b_sugg) | set(b_chunks) | set(files_b) | {b}
        assert len(b_sugg) > 10 and len(b_chunks) > 2
        a_docs = [d["document_id"] for d in docs[a]]
        words = ("rotate secret service principal workload identity token github issue jira ticket ssh login "
                 "retention lineage training audio access review policy").split()
        rnd = random.Random(42)
        kinds = {"search": 0, "list": 0, "foreign": 0, "own": 0}
        for _ in range(1000):
            pick = rnd.random()
            if pick < 0.45:
                q = " ".join(rnd.sample(words, rnd.randint(1, 4)))
                r = c.get("/v1/search", params={"q": q, "k": rnd.randint(1, 50)})
                assert r.status_code == 200 and r.json()["items"], q
                kinds["search"] += 1
            elif pick < 0.65:
                url = rnd.choice(["/v1/documents", "/v1/review-queue", "/v1/exports/mappings",
                                  f"/v1/coverage?framework={rnd.choice([ISO, CSF, NHI])}"])
                r = c.get(url)
                assert r.status_code == 200, url
                kinds["list"] += 1
            elif pick < 0.85:
                foreign = rnd.choice([f"/v1/documents/{rnd.choice(b_docs)}",
                                      f"/v1/documents/{rnd.choice(b_docs)}/chunks",
                                      f"/v1/documents/{rnd.choice(b_docs)}/suggestions",
                                      f"/v1/suggestions/{rnd.choice(b_sugg)}"])
                r = c.get(foreign)
                assert r.status_code == 404, foreign
                kinds["foreign"] += 1
            else:
                d = rnd.choice(a_docs)
                r = c.get(rnd.choice([f"/v1/documents/{d}/suggestions", f"/v1/documents/{d}/chunks"]))
                assert r.status_code == 200
                kinds["own"] += 1
            # a 404 may repeat the id that was asked for; nothing else of B may appear
            leaked = [x for x in secrets_of_b if x in r.text and x not in str(r.url)]
            assert not leaked, (r.url, leaked)
        r = c.post(f"/v1/suggestions/{b_sugg[0]}/decisions", json={"decision": "confirm"})
        assert r.status_code == 404
        assert c.get("/v1/documents").json()["total"] == len(files_a)
    assert min(kinds.values()) > 100, kinds
