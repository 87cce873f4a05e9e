"""A real Celery worker process takes ingestion jobs: on the embedded SQLite broker and on Redis."""

import time
import uuid

import pytest
from conftest import FIXTURES, REDIS_URL, _port_open, bearer, make_key, start_worker, stop, wait_for_document

pytestmark = [pytest.mark.slow, pytest.mark.needs_model]


def run_flow(settings, env):
    from fastapi.testclient import TestClient

    from api.app import create_app

    worker = None
    try:
        with TestClient(create_app(settings), headers=bearer(make_key(settings))) as client:
            ids = []
            for name in ("jira_SECOPS-842_rotate_transcription_sp_secret.json", "mlp-train-gpu-04_auth.log"):
                r = client.post("/v1/documents", files={"file": (name, (FIXTURES / name).read_bytes())})
                assert r.status_code == 202, r.text
                ids.append(r.json())
                if worker is None:   # the first job was accepted while no worker ran: its dispatcher publishes it
                    worker = start_worker(settings, env)
            bad = client.post("/v1/documents", files={"file": ("truncated.pdf", (
                FIXTURES / "KHA-POL-AI-001_AI_Policy_v3.0_signed.pdf").read_bytes())}).json()
            for body in ids:
                doc = wait_for_document(client, body["document_id"], timeout=180)
                assert doc["status"] == "indexed" and doc["chunk_count"] > 0, doc
                job = client.get(f"/v1/jobs/{body['job_id']}").json()
                assert job["state"] == "indexed" and job["percent"] == 100 and job["attempts"] == 1
                deadline = time.time() + 60
                while not client.get(f"/v1/documents/{body['document_id']}/suggestions").json()["items"]:
                    assert time.time() < deadline, "the worker did not classify the indexed document"
                    time.sleep(0.5)
            failed = wait_for_document(client, bad["document_id"], timeout=120)
            assert failed["status"] == "failed" and failed["error_code"] in ("corrupt_file", "no_text_layer")
            statuses = [client.get(f"/v1/documents/{b['document_id']}").json()["status"] for b in ids]
    finally:
        if worker is not None:
            stop(worker)
    assert worker.returncode is not None
    return statuses + [failed["status"]]


def test_worker_on_the_sqlite_broker(migrated_settings, chroma_server):
    """The worker and this process share a Chroma server: an embedded directory has one owner (see
    test_serve.py for the embedded default as `clausewise serve` runs it)."""
    settings = migrated_settings.model_copy(update={"chroma_url": chroma_server})
    assert run_flow(settings, {"CLAUSEWISE_CHROMA_URL": chroma_server}) == ["indexed", "indexed", "failed"]


@pytest.mark.redis
def test_worker_on_redis(migrated_settings, chroma_server):
    if not _port_open("127.0.0.1", 6379):
        pytest.fail("Redis is not reachable at 127.0.0.1:6379; it is a required test service")
    import redis

    queue = f"clausewise-test-{uuid.uuid4().hex[:8]}"  # a shared Redis: never consume another run's jobs
    settings = migrated_settings.model_copy(update={"broker_url": REDIS_URL, "result_backend": REDIS_URL,
                                                    "queue_name": queue, "chroma_url": chroma_server})
    try:
        assert run_flow(settings, {"CLAUSEWISE_BROKER_URL": REDIS_URL, "CLAUSEWISE_RESULT_BACKEND": REDIS_URL,
                                   "CLAUSEWISE_QUEUE_NAME": queue, "CLAUSEWISE_CHROMA_URL": chroma_server}
                        ) == ["indexed", "indexed", "failed"]
    finally:
        redis.Redis.from_url(REDIS_URL).delete(queue)


def test_redis_visibility_timeout_outlasts_the_hard_time_limit(settings):
    from worker.celery_app import make_celery

    app = make_celery(settings.model_copy(update={"broker_url": REDIS_URL}))
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1


def test_a_job_redelivered_after_three_crashes_ends_worker_crash(runtime, tmp_path):
    """The delivery counter: a document whose job already started three times is failed, not retried forever."""
    from core.models import DEFAULT_TENANT_ID, Job
    from ingest import service
    from ingest.intake import ingest_local_file
    from worker.jobs import run_ingest_job

    path = tmp_path / "poison.txt"
    path.write_text("a document whose parsing kills the worker\n")
    reg = ingest_local_file(path, db=runtime.db, blobs=runtime.blobs, tenant_id=DEFAULT_TENANT_ID,
                            max_bytes=10**6)
    with runtime.db.session() as s:
        s.get(Job, reg.job.id).attempts = 3  # three deliveries that each died mid-job
    assert run_ingest_job(runtime, reg.document.id, reg.job.id) == "failed"
    doc = service.get_document(db=runtime.db, tenant_id=DEFAULT_TENANT_ID, document_id=reg.document.id)
    assert doc["status"] == "failed" and doc["error_code"] == "worker_crash"
