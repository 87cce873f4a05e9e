"""The same service on PostgreSQL, Redis and a Chroma server, by configuration alone, with a real worker."""

import time
import uuid

import pytest
from conftest import FIXTURES, REDIS_URL, _port_open, bearer, make_key, start_worker, stop, wait_for_document

pytestmark = [pytest.mark.slow, pytest.mark.needs_model]


def _scale_settings(tmp_path, pg_url, chroma_server, **extra):
    from core.db import upgrade
    from core.settings import Settings

    if not _port_open("127.0.0.1", 6379):
        pytest.fail("Redis is not reachable at 127.0.0.1:6379; it is a required test service")
    queue = f"clausewise-test-{uuid.uuid4().hex[:8]}"  # a shared Redis: never consume another run's jobs
    env = {"CLAUSEWISE_DATABASE_URL": pg_url, "CLAUSEWISE_BROKER_URL": REDIS_URL,
           "CLAUSEWISE_RESULT_BACKEND": REDIS_URL, "CLAUSEWISE_CHROMA_URL": chroma_server,
           "CLAUSEWISE_QUEUE_NAME": queue, **{f"CLAUSEWISE_{k.upper()}": str(v) for k, v in extra.items()}}
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=pg_url, broker_url=REDIS_URL,
                        result_backend=REDIS_URL, chroma_url=chroma_server, queue_name=queue, **extra)
    settings.ensure_dirs()
    upgrade(pg_url)
    return settings, env


def _drop_queue(settings):
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.delete(settings.queue_name, "unacked", "unacked_index")


@pytest.mark.postgres
@pytest.mark.redis
def test_whole_flow_with_two_workers_on_postgres_redis_and_a_chroma_server(tmp_path, pg_url, chroma_server):
    """upload -> indexed -> suggestions -> decision -> coverage, with two worker processes sharing the queue."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.models import DEFAULT_TENANT_ID
    from core.vectors import VectorStore

    settings, env = _scale_settings(tmp_path, pg_url, chroma_server)
    workers = [start_worker(settings, env), start_worker(settings, env)]
    names = ["github_aerie-infra_issue_318_stale_workload_identity.json", "mlp-train-gpu-04_auth.log",
             "jira_SECOPS-842_rotate_transcription_sp_secret.json",
             "KHA-STD-DATA-007_training_audio_retention_and_lineage.md"]
    try:
        with TestClient(create_app(settings), headers=bearer(make_key(settings, "uploader"))) as client:
            ready = client.get("/v1/ready").json()
            assert ready["status"] == "ready", ready
            posted = []
            for name in names:
                r = client.post("/v1/documents", files={"file": (name, (FIXTURES / name).read_bytes())})
                assert r.status_code == 202, r.text
                posted.append(r.json())
            docs = [wait_for_document(client, p["document_id"], timeout=300) for p in posted]
            assert all(d["status"] == "indexed" and d["chunk_count"] > 0 for d in docs), docs
            ran_on = {d["job"]["timings"]["worker"] for d in docs}
            assert len(ran_on) == 2, f"both workers should have taken jobs: {ran_on}"
            sugg = client.get(f"/v1/documents/{docs[0]['document_id']}/suggestions").json()["items"]
            assert {s["framework"] for s in sugg} == {"ISO-IEC-42001-2023", "NIST-CSF-2.0", "OWASP-NHI-TOP10-2025"}
            top = next(s for s in sugg if s["framework"] == "ISO-IEC-42001-2023")
            reviewer = bearer(make_key(settings, "reviewer"))
            r = client.post(f"/v1/suggestions/{top['suggestion_id']}/decisions", json={"decision": "confirm"},
                            headers=reviewer)
            assert r.status_code == 201, r.text
            cov = client.get("/v1/coverage", params={"framework": "ISO-IEC-42001-2023"}).json()
            item = next(i for i in cov["items"] if i["control_id"] == top["control_id"])
            # confirmed: current, expiring or expired by the evidence's own date (the fixture's events are old)
            assert item["status"] in ("confirmed", "expiring", "expired"), item["status"]
            assert item["confirmed"][0]["document_id"] == docs[0]["document_id"]
            assert item["confirmed"][0]["evidence_date_source"] == "document"   # the log's last event
            again = client.post("/v1/documents", files={"file": ("copy.json", (FIXTURES / names[0]).read_bytes())})
            assert again.status_code == 200 and again.json()["duplicate_of"] == docs[0]["document_id"]
        assert len(VectorStore(chroma_server).ids(DEFAULT_TENANT_ID)) == sum(d["chunk_count"] for d in docs)
    finally:
        for w in workers:
            stop(w)
        _drop_queue(settings)


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_killed_mid_job_leaves_the_job_done_exactly_once(tmp_path, pg_url, chroma_server):
    """SIGKILL the worker while it embeds; the next worker takes the job back (its recovery sweep, once the
    dead worker's lease expired, or Redis after the visibility timeout: whichever comes first claims the lease,
    the other delivery is dropped); the job finishes once: no duplicate chunks, vectors or suggestion runs."""
    import signal

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from api.app import create_app
    from core.db import Database
    from core.models import DEFAULT_TENANT_ID, Chunk, Suggestion
    from core.vectors import VectorStore
    from eval.corpus import make_pdf
    from worker.celery_app import time_limits

    settings, env = _scale_settings(tmp_path, pg_url, chroma_server, job_time_limit_s=20, job_lease_s=5)
    _, _, visibility = time_limits(settings)
    pages = [" ".join(f"Section {p}.{i}: service account keys are rotated every 90 days, access is reviewed "
                      f"quarterly and model releases need a signed validation report." for i in range(30))
             for p in range(30)]
    first = start_worker(settings, env)
    second = None
    try:
        with TestClient(create_app(settings), headers=bearer(make_key(settings))) as client:
            r = client.post("/v1/documents", files={"file": ("long-policy.pdf", make_pdf(pages))})
            assert r.status_code == 202, r.text
            job_id, doc_id = r.json()["job_id"], r.json()["document_id"]
            deadline = time.time() + 120
            while (job := client.get(f"/v1/jobs/{job_id}").json())["stage"] not in ("embed", "index"):
                assert time.time() < deadline and job["state"] != "indexed", job
                time.sleep(0.05)
            delivered = time.time()
            first.send_signal(signal.SIGKILL)  # mid-job: no ack, no cleanup
            first.wait(timeout=30)
            assert client.get(f"/v1/documents/{doc_id}").json()["status"] == "processing"
            second = start_worker(settings, env)
            doc = wait_for_document(client, doc_id, timeout=240)
            job = client.get(f"/v1/jobs/{job_id}").json()
            # taken back through the expired lease, well before Redis would have redelivered the message
            assert time.time() < delivered + visibility, "recovered only by the broker's visibility timeout"
        assert doc["status"] == "indexed" and job["attempts"] == 2, (doc, job)
        db = Database(pg_url)
        try:
            with db.session() as s:
                chunks = s.scalar(select(func.count()).select_from(Chunk).where(Chunk.document_id == doc_id))
                runs = s.scalar(select(func.count(func.distinct(Suggestion.run_id)))
                                .where(Suggestion.document_id == doc_id))
        finally:
            db.dispose()
        assert chunks == doc["chunk_count"] > 0
        assert len(VectorStore(chroma_server).ids(DEFAULT_TENANT_ID, document_id=doc_id)) == chunks
        assert runs == 1
    finally:
        for w in (first, second):
            if w is not None and w.poll() is None:
                stop(w)
        _drop_queue(settings)
