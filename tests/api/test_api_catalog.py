"""Health, docs and catalog routes over the app."""

from catalog import load_catalog
from catalog.loader import CSF, ISO, NHI


def test_health_reports_catalog_version(client):
    r = client.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["catalog_version"] == load_catalog().version


def test_docs_and_openapi_are_served(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/catalog/controls/{framework}/{control_id}" in spec["paths"]


def test_frameworks_list_all_four_keys(client):
    body = client.get("/v1/catalog/frameworks").json()
    keys = [f["framework"] for f in body["items"]]
    assert keys == ["ISO-IEC-42001-2023", "NIST-CSF-2.0", "OWASP-NHI-TOP10-2025", "NIST-AI-RMF-1.0"]
    nhi = next(f for f in body["items"] if f["framework"] == NHI)
    assert "CC BY-SA" in nhi["attribution"]


def test_controls_listing_filters_requirements(client):
    body = client.get(f"/v1/catalog/frameworks/{CSF}/controls", params={"requirements_only": True}).json()
    assert body["count"] == 106
    body = client.get(f"/v1/catalog/frameworks/{ISO}/controls", params={"type": "annex_a_control"}).json()
    assert body["count"] == 38 and body["items"][0]["control_id"] == "A.2.2"


def test_control_detail_has_neighbours_with_paths(client):
    body = client.get(f"/v1/catalog/controls/{NHI}/NHI7").json()
    assert body["control_id"] == "NHI7" and body["examples"]
    fws = {n["framework"] for n in body["neighbours"]}
    assert {ISO, CSF} <= fws
    for n in body["neighbours"]:
        hop = n["path"][0]
        assert hop["from"] == {"framework": NHI, "control_id": "NHI7"}
        assert hop["relationship"] in {"equal", "subset", "superset", "intersect", "related"}
        assert hop["provenance"] == "project" and hop["rationale"]


def test_unknown_framework_and_control_get_stable_codes(client):
    r = client.get("/v1/catalog/frameworks/ISO-9001/controls")
    assert r.status_code == 404 and r.json()["error_code"] == "framework_not_found"
    r = client.get(f"/v1/catalog/controls/{ISO}/A.99.1")
    assert r.status_code == 404 and r.json() == {"error_code": "control_not_found",
                                                 "detail": f"{ISO} has no control 'A.99.1'"}
    r = client.get("/v1/nowhere")
    assert r.status_code == 404 and r.json()["error_code"] == "not_found"
    r = client.get(f"/v1/catalog/controls/{ISO}/A.6.2.8", params={"max_hops": 9})
    assert r.status_code == 422 and r.json()["error_code"] == "validation_error"
