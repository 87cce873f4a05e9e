"""Take back jobs whose worker died: publish them again, or fail them with `worker_crash` after three attempts.

Every worker runs the sweep in a background thread (once at start, then every quarter of the lease), and
`clausewise reconcile` runs it once on demand, where it also looks at jobs that never got a lease (a message the
broker lost) and are older than the job time limit. Acting on a job is one conditional UPDATE, so of two sweepers
only one publishes it; a duplicate message is harmless anyway, since only the lease holder runs a job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.errors import ErrorCode
from core.leases import MAX_ATTEMPTS, stuck_jobs, take_for_requeue
from core.runtime import Runtime

log = logging.getLogger("clausewise.recovery")
Publish = Callable[[str, str, int], None]  # (document id, job id, attempt about to start)


def sweep(rt: Runtime, publish: Publish | None, *, include_unleased: bool = False,
          dry_run: bool = False) -> list[dict]:
    """One pass over the jobs no live process runs; returns what was (or, dry, would be) done with each."""
    from ingest.pipeline import fail_document

    settings = rt.settings
    actions = []
    for job in stuck_jobs(rt.db, time_limit_s=settings.job_time_limit_s, include_unleased=include_unleased):
        exhausted = job.attempts >= MAX_ATTEMPTS
        action = "fail_worker_crash" if exhausted else "requeue"
        if not dry_run:
            if not take_for_requeue(rt.db, job, settings.job_time_limit_s):
                action = "taken_by_another_sweeper"
            elif exhausted:
                fail_document(rt, job.document_id, job.job_id, ErrorCode.worker_crash,
                              f"the worker died {job.attempts} times while processing this document")
                log.warning("job %s failed: worker_crash after %d attempts", job.job_id, job.attempts)
            elif publish is None:
                action = "requeue_pending"  # marked; its requeue lease expires and a worker's sweep publishes it
            else:
                publish(job.document_id, job.job_id, job.attempts + 1)
                log.warning("job %s of document %s published again (attempt %d): its lease expired",
                            job.job_id, job.document_id, job.attempts + 1)
        actions.append({**job.as_dict(), "action": action})
    return actions


def celery_publisher(app) -> Publish:
    """Publish an ingestion job on a Celery app (task id: the job id and the attempt, for the logs)."""
    from worker.celery_app import INGEST_TASK

    def publish(document_id: str, job_id: str, attempt: int) -> None:
        app.send_task(INGEST_TASK, args=[document_id, job_id], task_id=f"{job_id}-a{attempt}")

    return publish


class Beat(threading.Thread):
    """A worker's background duty: `beat()` once at start, then every `interval_s` until `stopped` is set. A beat
    that fails (a store down now) is logged on the subclass's logger and tried again at the next one."""

    log = log
    failure = "background beat failed"

    def __init__(self, name: str, interval_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.interval_s = interval_s
        self.stopped = threading.Event()

    def beat(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a store down now: try again at the next beat
                self.log.warning(self.failure, exc_info=True)
            if self.stopped.wait(self.interval_s):
                return


class RecoveryThread(Beat):
    """A worker's background sweep: once at start, then every `interval_s`."""

    failure = "recovery sweep failed"

    def __init__(self, runtime: Callable[[], Runtime], publish: Publish, interval_s: float) -> None:
        super().__init__("recovery", interval_s)
        self.runtime, self.publish = runtime, publish

    def beat(self) -> None:
        sweep(self.runtime(), self.publish)


def interval(settings) -> float:
    return settings.recovery_interval_s or min(15.0, max(0.5, settings.job_lease_s / 4))
