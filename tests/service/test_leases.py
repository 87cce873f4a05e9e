"""Job leases and the recovery sweep (core/leases.py, worker/recovery.py) on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.db import Database, upgrade
from core.leases import MAX_ATTEMPTS, ClaimOutcome, LeaseKeeper, claim, stuck_jobs
from core.models import DEFAULT_TENANT_ID, Document, Job, Tenant, utcnow


def _job(db: Database, n: int = 0) -> tuple[str, str]:
    with db.session() as s:
        if s.get(Tenant, DEFAULT_TENANT_ID) is None:
            s.add(Tenant(id=DEFAULT_TENANT_ID, slug="default", name="default"))
            s.flush()
        doc = Document(tenant_id=DEFAULT_TENANT_ID, sha256=f"{n:064d}", size_bytes=1, filename=f"f{n}.txt",
                       detected_type="text/plain", storage_key=f"k{n}", status="queued")
        job = Job(tenant_id=DEFAULT_TENANT_ID, document=doc, state="queued", stage="queued", timings={})
        s.add_all([doc, job])
        s.flush()
        return doc.id, job.id


def _expire(db: Database, job_id: str) -> None:
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    upgrade(url)
    d = Database(url)
    yield d
    d.dispose()


def test_one_claim_wins_a_live_lease_holds_an_expired_one_is_taken(db):
    _, job_id = _job(db)
    first = claim(db, job_id, "worker-a", 60)
    assert first.outcome is ClaimOutcome.claimed and first.attempts == 1
    assert claim(db, job_id, "worker-b", 60).outcome is ClaimOutcome.held  # a duplicate delivery is dropped
    _expire(db, job_id)  # worker-a died: nobody renewed
    second = claim(db, job_id, "worker-b", 60)
    assert second.outcome is ClaimOutcome.claimed and second.attempts == 2


def test_the_attempt_limit_and_finished_jobs(db):
    _, job_id = _job(db)
    for n in range(MAX_ATTEMPTS):
        assert claim(db, job_id, f"w{n}", 60).outcome is ClaimOutcome.claimed
        if n < MAX_ATTEMPTS - 1:
            _expire(db, job_id)
    assert claim(db, job_id, "late", 60).outcome is ClaimOutcome.held  # the last attempt is still alive
    _expire(db, job_id)
    assert claim(db, job_id, "late", 60).outcome is ClaimOutcome.exhausted
    _, done = _job(db, 1)
    with db.session() as s:
        s.get(Job, done).state = "indexed"
        s.get(Job, done).document.status = "indexed"
    got = claim(db, done, "w", 60)
    assert got.outcome is ClaimOutcome.finished and got.status == "indexed"
    assert claim(db, "no-such-job", "w", 60).outcome is ClaimOutcome.missing


def test_the_keeper_renews_while_the_job_runs_and_releases_it(db):
    _, job_id = _job(db)
    keeper = LeaseKeeper(db, lease_s=0.6, max_hold_s=60)
    assert keeper.claim(job_id).outcome is ClaimOutcome.claimed
    time.sleep(1.5)  # over two lease lengths: only renewals keep it
    assert claim(db, job_id, "other", 0.6).outcome is ClaimOutcome.held
    assert stuck_jobs(db, time_limit_s=900) == []
    keeper.release(job_id)
    with db.session() as s:
        assert s.get(Job, job_id).lease_expires_at is None
    keeper.close()


def test_a_keeper_stops_renewing_a_job_hung_past_its_time_limit(db):
    _, job_id = _job(db)
    keeper = LeaseKeeper(db, lease_s=0.3, max_hold_s=0.5)
    keeper.claim(job_id)
    time.sleep(1.5)
    assert [j.job_id for j in stuck_jobs(db, time_limit_s=900)] == [job_id]
    keeper.close()


def test_the_sweep_requeues_once_then_fails_with_worker_crash(runtime):
    from worker.recovery import sweep

    db = runtime.db
    doc_id, job_id = _job(db, 7)
    claim(db, job_id, "dead-worker", 60)
    _expire(db, job_id)
    published = []
    assert sweep(runtime, lambda d, j, a: published.append((d, j, a)), dry_run=True)[0]["action"] == "requeue"
    assert published == []  # dry run
    acts = sweep(runtime, lambda d, j, a: published.append((d, j, a)))
    assert [a["action"] for a in acts] == ["requeue"] and published == [(doc_id, job_id, 2)]
    assert sweep(runtime, lambda *a: published.append(a)) == []  # requeued: not swept again while it waits
    with db.session() as s:
        assert s.get(Job, job_id).state == "queued"
    # two more deaths: the third expired lease fails the document
    for attempt in (2, 3):
        assert claim(db, job_id, f"dead-{attempt}", 60).attempts == attempt
        _expire(db, job_id)
        acts = sweep(runtime, lambda *a: published.append(a))
    assert [a["action"] for a in acts] == ["fail_worker_crash"]
    with db.session() as s:
        doc = s.get(Document, doc_id)
        assert (doc.status, doc.error_code) == ("failed", "worker_crash")
    assert len(published) == 2


def test_reconcile_finds_a_job_never_delivered_within_the_time_limit(runtime):
    from worker.recovery import sweep

    db = runtime.db
    _, job_id = _job(db, 8)
    assert sweep(runtime, None, include_unleased=True, dry_run=True) == []  # young: the queue may be long
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(
            created_at=utcnow() - timedelta(seconds=runtime.settings.job_time_limit_s + 1)))
    found = sweep(runtime, None, include_unleased=True, dry_run=True)
    assert [(a["job_id"], a["action"]) for a in found] == [(job_id, "requeue")]
