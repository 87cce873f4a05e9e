"""The transactional outbox's dispatcher: publish committed jobs to the broker from a worker process.

An upload answers once its document and job rows are committed; the job row, `published_at` NULL, is the outbox.
Every worker runs a dispatcher thread beside its recovery sweep (and `python -m worker.outbox` runs one alone):
it claims unpublished jobs with one conditional UPDATE each (of two dispatchers, one wins a job), publishes them
and clears their short `requeue` lease. Nothing the API accepted is lost when a process dies: the API holds no
jobs in memory, a job committed while no worker runs is published when one starts, and a dispatcher killed
between its claim and the publish leaves the lease to expire, after which the recovery sweep publishes the job.
A second message for a job is harmless anyway: only the holder of the job's lease runs it (core/leases.py).

The API process used to publish from a thread of its own (kombu's ORM publish on the SQLite broker was a quarter
of the time the API held the interpreter per upload); here that work runs in another process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager

from core.leases import published, take_for_publish
from core.runtime import Runtime
from worker.recovery import Beat

log = logging.getLogger("clausewise.outbox")
Send = Callable[[list[tuple[str, str]]], None]  # publish [(document id, job id), ...]; raises if any did not go out
BATCH = 200


def celery_sender(app) -> Send:
    """Publish jobs on a Celery app (the job id is the task id) through one producer. On kombu's SQLAlchemy
    transport (the embedded SQLite broker) the batch is one transaction: kombu looks its queue up, flushes and
    commits each message on its own, most of a publish's cost; if the commit fails, none of the batch went out."""
    from worker.celery_app import INGEST_TASK

    def send(jobs: list[tuple[str, str]]) -> None:
        with app.producer_or_acquire() as producer, _one_commit(producer.channel):
            for document_id, job_id in jobs:
                app.send_task(INGEST_TASK, args=[document_id, job_id], task_id=job_id, producer=producer)

    return send


@contextmanager
def _one_commit(channel):
    """While inside, kombu's SQLAlchemy channel only adds each message to its session (no commit, no autoflush,
    the queue row looked up once); the batch is flushed as one INSERT of many rows and committed at the end, or
    rolled back on error. Other transports publish each message at once, as they always do."""
    if type(channel).__module__ != "kombu.transport.sqlalchemy":
        yield
        return
    session = channel.session
    queues: dict = {}
    lookup = channel._get_or_create

    def queue_row(name):
        if name not in queues:
            queues[name] = lookup(name)
        return queues[name]

    # instance attributes shadowing the class's methods for the batch, deleted afterwards
    session.commit, channel._get_or_create = (lambda: None), queue_row
    try:
        with session.no_autoflush:
            yield
    except BaseException:
        del session.commit, channel._get_or_create
        session.rollback()
        raise
    del session.commit, channel._get_or_create
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise


def publish_lease_s(settings) -> float:
    """How long a claimed job may wait for its publish before the sweep takes it back: a job lease."""
    return float(settings.job_lease_s)


def drain(rt: Runtime, send: Send, *, batch: int = BATCH) -> int:
    """Publish every job waiting in the outbox, a batch at a time; returns how many went out. A batch whose
    publish fails goes back to the outbox for the next pass (the pass stops there: the broker is likely down);
    some of its jobs may have gone out already, and a second message for a job is harmless."""
    total = 0
    while True:
        jobs, seen = take_for_publish(rt.db, publish_lease_s(rt.settings), limit=batch)
        if not seen:
            return total
        if not jobs:   # another dispatcher won them all: look again
            continue
        ids = [j for j, _ in jobs]
        try:
            send([(d, j) for j, d in jobs])
        except Exception as e:  # noqa: BLE001 - back to the outbox; the next pass tries again
            log.warning("could not publish %d jobs (%s); they stay in the outbox", len(ids), e)
            published(rt.db, ids, ok=False)
            return total
        published(rt.db, ids)
        total += len(ids)
        if seen < batch:
            return total


class OutboxThread(Beat):
    """A worker's dispatcher: drains the outbox, then looks again every `interval_s`."""

    log = log
    failure = "outbox pass failed"

    def __init__(self, runtime: Callable[[], Runtime], send: Send, interval_s: float) -> None:
        super().__init__("outbox", interval_s)
        self.runtime, self.send = runtime, send

    def beat(self) -> None:
        drain(self.runtime(), self.send)


def interval(settings) -> float:
    return settings.outbox_interval_s


def main() -> None:  # pragma: no cover - a process of its own: exercised by tests/service/test_outbox.py
    """A dispatcher alone (no consumer): for a deployment that wants it apart from the workers, and bench.upload."""
    import signal

    from core.settings import Settings
    from core.telemetry import configure_logging
    from worker.celery_app import make_celery

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    rt = Runtime(settings)
    thread = OutboxThread(lambda: rt, celery_sender(make_celery(settings)), interval(settings))
    signal.signal(signal.SIGTERM, lambda *_: thread.stopped.set())
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        thread.stopped.set()
        thread.join()
    rt.close()


if __name__ == "__main__":  # pragma: no cover
    main()
