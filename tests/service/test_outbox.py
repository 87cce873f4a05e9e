"""The transactional outbox: an upload answers once its job row is committed, unpublished; a worker's dispatcher
(worker/outbox.py) publishes it, once, whoever else dispatches, and whatever dies on the way."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from conftest import FIXTURES, bearer, make_key
from sqlalchemy import select

from core.db import Database, upgrade
from core.models import DEFAULT_TENANT_ID, Document, Job, Tenant


def _messages(settings) -> int:
    path = settings.data_dir / "broker.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'kombu_message'").fetchone():
            return 0
        return con.execute("SELECT count(*) FROM kombu_message").fetchone()[0]


def _jobs(db: Database) -> list[Job]:
    with db.session() as s:
        return list(s.scalars(select(Job).order_by(Job.created_at)))


def _rows(db: Database, n: int) -> list[str]:
    """n documents, each with a job waiting in the outbox, as an upload leaves them."""
    ids = []
    with db.session() as s:
        if s.get(Tenant, DEFAULT_TENANT_ID) is None:
            s.add(Tenant(id=DEFAULT_TENANT_ID, slug="default", name="default"))
            s.flush()
        for i in range(n):
            doc = Document(tenant_id=DEFAULT_TENANT_ID, sha256=f"{i:064d}", size_bytes=1, filename=f"f{i}.txt",
                           detected_type="text/plain", storage_key=f"k{i}", status="queued")
            job = Job(tenant_id=DEFAULT_TENANT_ID, document=doc, state="queued", stage="queued", timings={})
            s.add_all([doc, job])
            s.flush()
            ids.append(job.id)
    return ids


def test_an_upload_leaves_its_job_in_the_outbox_and_a_dispatcher_publishes_it_once(migrated_settings):
    """No worker runs while the API accepts: nothing reaches the broker and the API holds nothing in memory. A
    dispatcher started afterwards, in a runtime of its own, publishes each job once and clears its lease."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.runtime import Runtime
    from worker.celery_app import make_celery
    from worker.outbox import celery_sender, drain

    assert not migrated_settings.task_always_eager
    with TestClient(create_app(migrated_settings), headers=bearer(make_key(migrated_settings))) as client:
        accepted = []
        for name in ("jira_SECOPS-842_rotate_transcription_sp_secret.json", "mlp-train-gpu-04_auth.log"):
            r = client.post("/v1/documents", files={"file": (name, (FIXTURES / name).read_bytes())})
            assert r.status_code == 202, r.text
            accepted.append(r.json()["job_id"])
        assert client.get(f"/v1/jobs/{accepted[0]}").json()["state"] == "queued"
        assert "clausewise_outbox_jobs 2.0" in client.get("/v1/metrics").text
    rt = Runtime(migrated_settings)
    try:
        jobs = _jobs(rt.db)
        assert [j.id for j in jobs] == accepted and all(j.published_at is None for j in jobs)
        assert _messages(migrated_settings) == 0
        app = make_celery(migrated_settings)
        assert drain(rt, celery_sender(app)) == 2
        assert _messages(migrated_settings) == 2
        jobs = _jobs(rt.db)
        assert all(j.published_at is not None and j.lease_owner is None and j.lease_expires_at is None
                   and j.state == "queued" for j in jobs)
        assert drain(rt, celery_sender(app)) == 0 and _messages(migrated_settings) == 2
        from core.telemetry import DatabaseCollector

        gauges = {f.name: f.samples[0].value for f in DatabaseCollector(rt.db).collect() if f.name.endswith("jobs")}
        assert gauges == {"clausewise_outbox_jobs": 0}
    finally:
        rt.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    upgrade(url)
    return url


def test_two_dispatchers_never_publish_a_job_twice(db_url, settings):
    from core.runtime import Runtime
    from worker.outbox import drain

    seed = Database(db_url)
    ids = _rows(seed, 120)
    sent: dict[str, list[str]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def dispatcher(name: str) -> None:
        rt = Runtime(settings, db=Database(db_url))

        def send(jobs: list[tuple[str, str]]) -> None:
            sent[name].extend(j for _, j in jobs)
            time.sleep(0.005)   # a publish takes a while: the other dispatcher runs meanwhile

        start.wait()
        try:
            drain(rt, send, batch=10)   # until the outbox is empty
        finally:
            rt.db.dispose()

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in sent]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    both = sent["a"] + sent["b"]
    assert sorted(both) == sorted(ids), "every job published exactly once"
    assert sent["a"] and sent["b"], "both dispatchers took part (else the race was not run)"
    assert all(j.published_at is not None and j.lease_owner is None for j in _jobs(seed))
    seed.dispose()


def test_a_failed_publish_puts_the_job_back_and_the_next_pass_sends_it(db, settings):
    from core.runtime import Runtime
    from worker.outbox import drain

    ids = _rows(db, 3)
    rt = Runtime(settings, db=db)
    tried = []

    def broker_down(jobs: list[tuple[str, str]]) -> None:
        tried.append([j for _, j in jobs])
        raise ConnectionError("broker down")

    assert drain(rt, broker_down, batch=2) == 0
    assert tried == [ids[:2]], "the pass stops at the first failure"
    assert all(j.published_at is None and j.lease_owner is None for j in _jobs(db)), "all back in the outbox"
    sent = []
    assert drain(rt, lambda jobs: sent.extend(j for _, j in jobs), batch=2) == 3 and sent == ids


def test_a_dispatcher_that_dies_before_publishing_leaves_the_job_to_the_recovery_sweep(db, settings):
    """The claim commits, the process is killed before the publish: the job is marked published but no message
    exists. Its short lease expires and the sweep every worker runs publishes it; the outbox does not."""
    from core.leases import take_for_publish
    from core.runtime import Runtime
    from worker.outbox import drain
    from worker.recovery import sweep

    (job_id,) = _rows(db, 1)
    assert [j for j, _ in take_for_publish(db, lease_s=0.2)[0]] == [job_id]   # ... and then SIGKILL
    rt = Runtime(settings, db=db)
    assert drain(rt, lambda *_: pytest.fail("claimed by the dead dispatcher: not the outbox's any more")) == 0
    assert sweep(rt, lambda *_: pytest.fail("its lease has not expired")) == []
    time.sleep(0.3)
    published = []
    acts = sweep(rt, lambda d, j, a: published.append((j, a)))
    assert [a["action"] for a in acts] == ["requeue"] and published == [(job_id, 1)]


def test_a_job_a_worker_claimed_meanwhile_keeps_its_lease(db, settings):
    """A worker may claim a job between the dispatcher's publish and its lease clean-up: the clean-up leaves the
    worker's lease alone."""
    from core.leases import claim, published, take_for_publish

    (job_id,) = _rows(db, 1)
    take_for_publish(db, lease_s=60)
    got = claim(db, job_id, "worker-a", 60)
    assert got.outcome.value == "claimed"
    published(db, [job_id])
    (job,) = _jobs(db)
    assert job.lease_owner == "worker-a" and job.lease_expires_at is not None and job.state == "processing"


def test_on_the_sqlite_broker_a_batch_is_one_transaction(migrated_settings):
    """kombu commits each message on its own; the dispatcher's batch is one commit, so a batch that fails half
    way leaves no message behind, and the next pass publishes each job once."""
    from core.runtime import Runtime
    from worker.celery_app import make_celery
    from worker.outbox import celery_sender, drain

    rt = Runtime(migrated_settings)
    try:
        ids = _rows(rt.db, 5)
        app = make_celery(migrated_settings)
        real, calls = app.send_task, []

        def second_fails(*a, **kw):
            calls.append(kw["task_id"])
            if len(calls) == 2:
                raise ConnectionError("lost the broker half way")
            return real(*a, **kw)

        app.send_task = second_fails
        assert drain(rt, celery_sender(app)) == 0 and len(calls) == 2
        assert _messages(migrated_settings) == 0, "the first message of the failed batch was rolled back"
        assert all(j.published_at is None for j in _jobs(rt.db))
        app.send_task = real
        assert drain(rt, celery_sender(app)) == 5
        assert _messages(migrated_settings) == 5
        with sqlite3.connect(migrated_settings.data_dir / "broker.db") as con:
            payloads = [r[0] for r in con.execute("SELECT payload FROM kombu_message")]
        assert sorted(i for i in ids if any(i in p for p in payloads)) == sorted(ids)
    finally:
        rt.close()


def test_reconcile_publishes_a_job_left_in_the_outbox_past_the_time_limit_and_the_dispatcher_does_not(db, settings):
    """No worker ran for the whole job time limit: `clausewise reconcile` publishes the job and marks it
    published, so a dispatcher starting later does not send it a second time."""
    from datetime import timedelta

    from sqlalchemy import update

    from core.models import utcnow
    from core.runtime import Runtime
    from worker.outbox import drain
    from worker.recovery import sweep

    (job_id,) = _rows(db, 1)
    with db.session() as s:
        s.execute(update(Job).values(created_at=utcnow() - timedelta(seconds=settings.job_time_limit_s + 5)))
    rt = Runtime(settings, db=db)
    published = []
    acts = sweep(rt, lambda d, j, a: published.append(j), include_unleased=True)
    assert [a["action"] for a in acts] == ["requeue"] and published == [job_id]
    assert drain(rt, lambda jobs: pytest.fail(f"published twice: {jobs}")) == 0
