"""The same service on PostgreSQL, Redis and a Chroma server, by configuration alone, with a real worker."""

import os
import subprocess
import time
import uuid

import httpx
import pytest

from conftest import FIXTURES, REDIS_URL, _port_open, bearer, free_port, make_key, wait_for_document
from test_worker import start_worker, stop


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server (`chroma run`) on a free loopback port."""
    import sys
    from pathlib import Path

    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("chroma server did not start")
        time.sleep(0.3)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.postgres
@pytest.mark.redis
def test_upload_to_suggestions_on_postgres_redis_and_a_chroma_server(tmp_path, pg_url, chroma_server):
    if not _port_open("127.0.0.1", 6379):
        pytest.fail("Redis is not reachable at 127.0.0.1:6379; it is a required test service")
    import redis
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.db import upgrade
    from core.settings import Settings

    queue = f"clausewise-test-{uuid.uuid4().hex[:8]}"  # a shared Redis: never consume another run's jobs
    env = {"CLAUSEWISE_DATABASE_URL": pg_url, "CLAUSEWISE_BROKER_URL": REDIS_URL,
           "CLAUSEWISE_RESULT_BACKEND": REDIS_URL, "CLAUSEWISE_CHROMA_URL": chroma_server,
           "CLAUSEWISE_QUEUE_NAME": queue}
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=pg_url, broker_url=REDIS_URL,
                        result_backend=REDIS_URL, chroma_url=chroma_server, queue_name=queue)
    settings.ensure_dirs()
    upgrade(pg_url)
    worker = start_worker(settings, env)
    try:
        with TestClient(create_app(settings), headers=bearer(make_key(settings))) as client:
            name = "github_aerie-infra_issue_318_stale_workload_identity.json"
            r = client.post("/v1/documents", files={"file": (name, (FIXTURES / name).read_bytes())})
            assert r.status_code == 202, r.text
            doc = wait_for_document(client, r.json()["document_id"], timeout=180)
            assert doc["status"] == "indexed" and doc["chunk_count"] > 0, doc
            assert doc["evidence_range"]["start"] is not None
            deadline = time.time() + 120  # the first classification builds the control index
            while not (sugg := client.get(f"/v1/documents/{doc['document_id']}/suggestions").json())["items"]:
                assert time.time() < deadline, str(client.get(f"/v1/jobs/{r.json()['job_id']}").json()["timings"])
                time.sleep(0.5)
            assert {s["framework"] for s in sugg["items"]} == {"ISO-IEC-42001-2023", "NIST-CSF-2.0",
                                                               "OWASP-NHI-TOP10-2025"}
            again = client.post("/v1/documents", files={"file": ("copy.json", (FIXTURES / name).read_bytes())})
            assert again.status_code == 200 and again.json()["duplicate_of"] == doc["document_id"]
        from core.models import DEFAULT_TENANT_ID
        from core.vectors import VectorStore

        assert len(VectorStore(chroma_server).ids(DEFAULT_TENANT_ID)) == doc["chunk_count"]
    finally:
        stop(worker)
        redis.Redis.from_url(REDIS_URL).delete(queue)
