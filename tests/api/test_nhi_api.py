"""The NHI inventory over HTTP and in the web UI, and `clausewise eval nhi` on the labelled inventory."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, bearer, make_key, wait_for_document
from test_ui import _sign_in, _ui

pytestmark = pytest.mark.needs_model
FILES2 = FIXTURES.parent / "files2"


def test_inventory_api_filters_pages_trail_export_and_page(eager_settings):
    from ingest.partition import warm_up

    warm_up()
    key = make_key(eager_settings, "admin")
    other = make_key(eager_settings, "admin", tenant="elsewhere")
    with _ui(eager_settings) as c:
        h = bearer(key)
        for name in ("keel-prod-euw1_kube-apiserver-audit_2026-02-03.jsonl", "vault-prod_audit_2026-01-14.jsonl"):
            r = c.post("/v1/documents", files={"file": (name, (FILES2 / name).read_bytes())}, headers=h)
            assert r.status_code == 202, r.text
            doc = wait_for_document(type("A", (), {"get": lambda self, u, **kw: c.get(u, headers=h, **kw)})(),
                                    r.json()["document_id"])
            assert doc["status"] == "indexed"
        page = c.get("/v1/nhi", headers=h).json()
        assert set(page) >= {"items", "total", "page", "page_size"} and page["total"] >= 5
        one = c.get("/v1/nhi", params={"page_size": 2, "page": 2}, headers=h).json()
        assert one["page"] == 2 and len(one["items"]) == 2 and one["items"][0]["id"] == page["items"][2]["id"]
        k8s = c.get("/v1/nhi", params={"kind": "k8s_service_account"}, headers=h).json()["items"]
        assert k8s and all(i["kind"] == "k8s_service_account" and i["identity"].startswith("system:serviceaccount:")
                           for i in k8s)
        assert c.get("/v1/nhi", params={"kind": "spaceship"}, headers=h).status_code == 422
        detail = c.get(f"/v1/nhi/{k8s[0]['id']}", headers=h).json()
        assert detail["trail"] and detail["documents"][0]["filename"].endswith(".jsonl")
        r = c.get("/v1/nhi/" + "f" * 20, headers=h)
        assert r.status_code == 404 and r.json()["error_code"] == "identity_not_found"
        # tenant-scoped
        assert c.get("/v1/nhi", headers=bearer(other)).json()["total"] == 0
        assert c.get(f"/v1/nhi/{k8s[0]['id']}", headers=bearer(other)).status_code == 404
        # CSV export, one row per identity
        r = c.get("/v1/exports/nhi", params={"format": "csv"}, headers=h)
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert r.status_code == 200 and len(rows) == page["total"] and rows[0]["identity"]
        assert json.loads(c.get("/v1/exports/nhi", headers=h).text)["total"] == page["total"]
        # the web UI lists them beside coverage and opens one identity's trail
        _sign_in(c, key)
        html = c.get("/ui/nhi").text
        assert f"{page['total']} identities" in html and k8s[0]["identity"] in html
        assert "Machine identities" in c.get("/ui/coverage").text
        trail = c.get(f"/ui/nhi/{k8s[0]['id']}")
        assert trail.status_code == 200 and "Evidence trail" in trail.text


def test_eval_nhi_command_reports_precision_and_recall_per_kind(tmp_path):
    out = tmp_path / "nhi.json"
    r = subprocess.run([sys.executable, "-m", "api.cli", "eval", "nhi", "--dataset",
                        str(ROOT / "eval" / "datasets" / "nhi" / "inventory.jsonl"), "--json", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["labelled"] >= 100 and result["files"] >= 20
    assert "precision" in r.stdout and "k8s_service_account" in r.stdout
    for kind, m in result["per_kind"].items():
        assert set(m) == {"precision", "recall", "tp", "fp", "fn"}, kind
    # the labelled inventory was written by reading the files, apart from the extractors; the target is 0.9 for
    # both (0.965 / 0.946 when this was last raised)
    assert result["precision"] >= 0.9 and result["recall"] >= 0.9, (result["precision"], result["recall"])
