"""Readiness, Prometheus metrics and structured logs with request and job ids."""

from __future__ import annotations

import io
import json
import logging

import pytest
from conftest import FIXTURES, bearer, free_port, ingest_file, make_key, wait_for_document
from fastapi.testclient import TestClient


@pytest.fixture
def json_logs():
    """Our JSON log configuration, writing to a buffer; the previous root handlers come back afterwards."""
    from core.telemetry import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buf = io.StringIO()
    configure_logging("INFO", True, stream=buf)
    yield lambda: [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_ready_checks_database_broker_and_vector_store(eager_client):
    r = eager_client.get("/v1/ready", headers={"Authorization": ""})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and set(body["checks"]) == {"database", "broker", "vector_store"}
    assert all(c["ok"] for c in body["checks"].values())


def test_ready_is_503_when_the_broker_and_vector_store_are_down(migrated_settings):
    from api.app import create_app

    dead = free_port()
    settings = migrated_settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{dead}/0",
                                                    "chroma_url": f"http://127.0.0.1:{dead}"})
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/ready")
    assert r.status_code == 503 and r.json()["error_code"] == "not_ready"
    checks = r.json()["checks"]
    assert checks["database"]["ok"] and not checks["broker"]["ok"] and not checks["vector_store"]["ok"]


def test_metrics_need_an_admin_key_and_count_uploads_jobs_and_suggestions(eager_client, eager_settings):
    c = eager_client
    assert c.get("/v1/metrics", headers={"Authorization": ""}).status_code == 401
    assert c.get("/v1/metrics", headers=bearer(make_key(eager_settings, "reviewer"))).status_code == 403

    def sample(text, name, **labels):
        from prometheus_client.parser import text_string_to_metric_families

        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return 0.0

    before = c.get("/v1/metrics").text
    name = "jira_SECOPS-842_rotate_transcription_sp_secret.json"
    r = c.post("/v1/documents", files={"file": (name, (FIXTURES / name).read_bytes())})
    wait_for_document(c, r.json()["document_id"])
    c.post("/v1/documents", files={"file": ("empty.txt", b"")})
    after = c.get("/v1/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert sample(text, "clausewise_uploads_total", outcome="accepted") == \
        sample(before, "clausewise_uploads_total", outcome="accepted") + 1
    assert sample(text, "clausewise_uploads_total", outcome="empty_file") >= 1
    assert sample(text, "clausewise_job_stage_seconds_count", stage="embed") >= 1
    assert sample(text, "clausewise_documents", status="indexed") == 1
    assert sample(text, "clausewise_queue_depth", state="queued") == 0
    assert sample(text, "clausewise_suggestions", framework="ISO-IEC-42001-2023", state="suggested") + \
        sample(text, "clausewise_suggestions", framework="ISO-IEC-42001-2023", state="needs_review") > 0
    assert sample(text, "clausewise_http_request_seconds_count", method="POST", route="/v1/documents",
                  status="202") >= 1


def test_logs_are_json_lines_with_request_and_job_ids(client, runtime, json_logs):
    r = client.get("/v1/catalog/frameworks", headers={"X-Request-ID": "req-42"})
    assert r.headers["X-Request-ID"] == "req-42"
    assert client.get("/v1/health").headers["X-Request-ID"] not in ("", "req-42")
    doc = ingest_file(runtime, FIXTURES / "mlp-train-gpu-04_auth.log")
    lines = json_logs()
    access = [x for x in lines if x.get("request_id") == "req-42"]
    assert access and access[0]["path"] == "/v1/catalog/frameworks" and access[0]["status"] == 200
    assert {"ts", "level", "logger", "msg"} <= set(access[0])
    job_lines = [x for x in lines if x.get("job_id") == doc["job"]["job_id"]]
    assert {"job started", "job indexed"} <= {x["msg"] for x in job_lines}
