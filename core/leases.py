"""Job leases: a job is run by whoever holds its lease, and a lease nobody renews expires.

The broker's redelivery alone cannot be trusted to bring back the job of a worker that died: the SQLite transport
keeps a taken message taken, and Redis hands it back only after its visibility timeout. So the database says who
runs a job and until when. A worker claims the job atomically (one conditional UPDATE), renews the lease from a
background thread while it runs, and gives it up when the job ends. A job whose lease expired while it was still
`queued` or `processing` belonged to a worker that died (or hung past the job time limit): the recovery sweep in
every worker (`worker.recovery`) publishes it again, or fails it with `worker_crash` after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, or_, select, update

from core.db import Database
from core.models import Document, DocumentStatus, Job, JobStage, as_utc, utcnow

log = logging.getLogger("clausewise.leases")
MAX_ATTEMPTS = 3
REQUEUE_OWNER = "requeue"
_ACTIVE = (DocumentStatus.queued.value, DocumentStatus.processing.value)



def owner_id() -> str:
    """Who holds a lease: host, process and a random part (a pid can be reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClaimOutcome(StrEnum):
    claimed = "claimed"
    held = "held"  # a live holder runs it: this delivery is a duplicate
    finished = "finished"  # indexed or failed already
    exhausted = "exhausted"  # MAX_ATTEMPTS deliveries started and none finished
    missing = "missing"


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    status: str | None = None  # the document's status when finished
    attempts: int = 0


def claim(db: Database, job_id: str, owner: str, lease_s: float, *, max_attempts: int = MAX_ATTEMPTS) -> Claim:
    """Take the job's lease if nobody live holds it, counting the attempt. One UPDATE decides races."""
    now = utcnow()
    with db.session() as s:
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_(_ACTIVE), Job.attempts < max_attempts,
                   or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now, Job.lease_owner == REQUEUE_OWNER))
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_s),
                    attempts=Job.attempts + 1, state=DocumentStatus.processing.value)
            .execution_options(synchronize_session=False))
        if res.rowcount == 1:
            attempts = s.scalar(select(Job.attempts).where(Job.id == job_id))
            return Claim(ClaimOutcome.claimed, attempts=attempts)
        row = s.execute(select(Job.state, Job.attempts, Job.lease_owner, Job.lease_expires_at, Document.status)
                        .join(Document, Document.id == Job.document_id).where(Job.id == job_id)).first()
    if row is None:
        return Claim(ClaimOutcome.missing)
    state, attempts, holder, expires, doc_status = row
    if state not in _ACTIVE or doc_status in (DocumentStatus.indexed.value, DocumentStatus.failed.value):
        return Claim(ClaimOutcome.finished, status=doc_status, attempts=attempts)
    if expires is not None and holder != REQUEUE_OWNER and as_utc(expires) >= now:
        return Claim(ClaimOutcome.held, attempts=attempts)  # a live holder (perhaps on its last attempt)
    if attempts >= max_attempts:
        return Claim(ClaimOutcome.exhausted, attempts=attempts)
    return Claim(ClaimOutcome.held, attempts=attempts)


def renew(db: Database, job_ids: list[str], owner: str, lease_s: float) -> set[str]:
    """Extend the leases; returns the job ids that are still ours (one UPDATE per beat, whatever their number)."""
    if not job_ids:
        return set()
    with db.session() as s:
        s.execute(update(Job).where(Job.id.in_(job_ids), Job.lease_owner == owner)
                  .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
                  .execution_options(synchronize_session=False))
        return set(s.scalars(select(Job.id).where(Job.id.in_(job_ids), Job.lease_owner == owner)))


def release(db: Database, job_id: str, owner: str) -> None:
    """Give the lease up (the job ended, or this process stops running it)."""
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner)
                  .values(lease_expires_at=None).execution_options(synchronize_session=False))


class LeaseKeeper:
    """Claims jobs for one process and renews their leases from a thread, every third of the lease length.

    A job's lease stops being renewed once it has been held `max_hold_s` (the job time limit): a job hung past
    its limit then loses its lease like a dead one, and the recovery sweep takes it back.
    """

    def __init__(self, db: Database, lease_s: float, max_hold_s: float, owner: str | None = None) -> None:
        self.db, self.lease_s, self.max_hold_s = db, lease_s, max_hold_s
        self.owner = owner or owner_id()
        self._held: dict[str, float] = {}  # job id -> monotonic claim time
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: set[str] = set()

    def claim(self, job_id: str, *, max_attempts: int = MAX_ATTEMPTS) -> Claim:
        got = claim(self.db, job_id, self.owner, self.lease_s, max_attempts=max_attempts)
        if got.outcome is ClaimOutcome.claimed:
            with self._lock:
                self._held[job_id] = time.monotonic()
            self._ensure_thread()
        return got

    def release(self, job_id: str) -> None:
        with self._lock:
            self._held.pop(job_id, None)
        try:
            release(self.db, job_id, self.owner)
        except Exception:  # noqa: BLE001 - the lease then simply expires
            log.warning("could not release the lease of job %s", job_id, exc_info=True)

    def abandon(self, job_id: str) -> None:
        """Stop renewing without releasing: the lease expires and the job is swept up and run again."""
        with self._lock:
            self._held.pop(job_id, None)

    def held(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [j for j, t in self._held.items() if now - t > self.max_hold_s]
            for j in overdue:
                log.warning("job %s ran past its time limit; its lease is left to expire", j)
                self._held.pop(j)
            ids = list(self._held)
        kept = renew(self.db, ids, self.owner, self.lease_s)
        for j in set(ids) - kept:
            log.warning("the lease of job %s was lost", j)
            self.lost.add(j)
            with self._lock:
                self._held.pop(j, None)

    def _run(self) -> None:
        while not self._stop.wait(max(0.2, self.lease_s / 3)):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - a database hiccup: try again at the next beat
                log.warning("could not renew leases", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for j in self.held():
            self.release(j)


@dataclass(frozen=True)
class Stuck:
    """A job no live process runs: its lease expired (or, for rows from before leases, it is older than the
    job time limit)."""

    job_id: str
    document_id: str
    tenant_id: str
    state: str
    stage: str | None
    attempts: int
    since: datetime | None

    def as_dict(self) -> dict:
        return {"job_id": self.job_id, "document_id": self.document_id, "tenant_id": self.tenant_id,
                "state": self.state, "stage": self.stage, "attempts": self.attempts,
                "since": self.since.isoformat() if self.since else None}


def stuck_jobs(db: Database, *, time_limit_s: float, include_unleased: bool = False) -> list[Stuck]:
    """Active jobs whose lease expired. With `include_unleased`, also jobs never leased (or released without
    finishing) that were created or started more than the job time limit ago: a message the broker lost, or
    a row from before leases existed (what `reconcile` looks at)."""
    now = utcnow()
    old = now - timedelta(seconds=time_limit_s)
    cond = Job.lease_expires_at < now
    if include_unleased:
        cond = or_(cond, (Job.lease_expires_at.is_(None)) & (Job.created_at < old)
                   & or_(Job.started_at.is_(None), Job.started_at < old))
    with db.session() as s:
        rows = s.execute(select(Job.id, Job.document_id, Job.tenant_id, Job.state, Job.stage, Job.attempts,
                                Job.lease_expires_at, Job.started_at, Job.created_at)
                         .where(Job.state.in_(_ACTIVE), cond).order_by(Job.created_at)).all()
    return [Stuck(r.id, r.document_id, r.tenant_id, r.state, r.stage, r.attempts,
                  r.lease_expires_at or r.started_at or r.created_at) for r in rows]


def take_for_requeue(db: Database, job: Stuck, requeue_lease_s: float) -> bool:
    """Mark a stuck job queued again under a short-lived `requeue` lease, once (a conditional UPDATE: of two
    sweepers racing, one wins). If the process dies before publishing, the requeue lease expires and the job is
    swept again."""
    now = utcnow()
    with db.session() as s:
        q = update(Job).where(Job.id == job.job_id, Job.state.in_(_ACTIVE), Job.attempts == job.attempts)
        q = q.where(or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now))
        res = s.execute(q.values(state=DocumentStatus.queued, stage=JobStage.requeued, lease_owner=REQUEUE_OWNER,
                                 lease_expires_at=now + timedelta(seconds=requeue_lease_s),
                                 # a job still in the outbox (no worker ran for the time limit) is published
                                 # by this sweep: the dispatcher leaves it alone
                                 published_at=func.coalesce(Job.published_at, now))
                        .execution_options(synchronize_session=False))
        return res.rowcount == 1



def take_for_publish(db: Database, lease_s: float, limit: int = 100) -> tuple[list[tuple[str, str]], int]:
    """Claim up to `limit` committed jobs that no dispatcher has published yet, oldest first; returns the (job id,
    document id) this caller won and how many it tried (0: the outbox is empty). One conditional UPDATE marks them
    published under a short `requeue` lease (of two dispatchers racing for a job, one wins it; on SQLite it holds
    the writer lock for one statement): a worker may claim the job as soon as its message arrives, and if this
    process dies before `published` clears the lease, the lease expires and the recovery sweep publishes the job
    again (a second message is harmless: only the lease holder runs a job)."""
    now = utcnow()
    waiting = (Job.published_at.is_(None), Job.state == DocumentStatus.queued.value)
    with db.session() as s:
        ids = list(s.scalars(select(Job.id).where(*waiting).order_by(Job.created_at).limit(limit)))
        if not ids:
            return [], 0
        rows = s.execute(update(Job).where(Job.id.in_(ids), *waiting)
                         .values(published_at=now, lease_owner=REQUEUE_OWNER,
                                 lease_expires_at=now + timedelta(seconds=lease_s))
                         .returning(Job.id, Job.document_id, Job.created_at)
                         .execution_options(synchronize_session=False)).all()
    won = sorted(rows, key=lambda r: (as_utc(r.created_at), r.id))
    return [(r.id, r.document_id) for r in won], len(ids)


def published(db: Database, job_ids: list[str], *, ok: bool = True) -> None:
    """After the publish: the jobs that went out wait in the broker like any queued job (no lease: a job waiting
    behind a long queue is not swept); with `ok=False`, jobs whose publish failed go back to the outbox. Neither
    touches a job a worker has claimed meanwhile."""
    if not job_ids:
        return
    values = {"lease_owner": None, "lease_expires_at": None} if ok else \
        {"published_at": None, "lease_owner": None, "lease_expires_at": None}
    with db.session() as s:
        s.execute(update(Job).where(Job.id.in_(job_ids), Job.lease_owner == REQUEUE_OWNER,
                                    Job.state == DocumentStatus.queued.value)
                  .values(**values).execution_options(synchronize_session=False))
