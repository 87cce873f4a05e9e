"""Where the API sends long jobs: a Celery broker (ingestion through the outbox a worker drains, evaluation runs
directly), or (task_always_eager) a background thread of this process that runs the same flows a worker runs."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("clausewise.dispatch")


class Dispatch:
    """Where long jobs go: a Celery broker, or (task_always_eager) a background thread of this process."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.pool: ThreadPoolExecutor | None = None
        if settings.task_always_eager:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")
            self.runtime = runtime
        else:
            from worker.celery_app import make_celery

            self.celery = make_celery(settings)
            self.queue = settings.queue_name

    def _inline(self, fn, *args) -> None:
        fut = self.pool.submit(fn, *args)
        fut.add_done_callback(lambda f: f.exception() and log.error("inline job failed", exc_info=f.exception()))

    def ingest(self, document_id: str, job_id: str) -> None:
        """Start ingestion (then classification) of a document whose job row is committed.

        With a broker this does nothing: the committed job row is the outbox, and a worker's dispatcher publishes
        it (worker/outbox.py), so the API process spends no time on the broker and holds no job in memory that a
        kill could lose. In-process (task_always_eager) a background thread runs the job."""
        if self.pool is not None:
            from worker.flows import ingest_and_classify

            return self._inline(ingest_and_classify, self.runtime, document_id, job_id)
        return None

    def evaluate(self, run_id: str) -> None:
        from worker.celery_app import EVAL_TASK

        if self.pool is not None:
            from eval.service import execute_run

            return self._inline(lambda: execute_run(db=self.runtime.db, run_id=run_id))
        self.celery.send_task(EVAL_TASK, args=[run_id], task_id=run_id)

    def broker_depth(self) -> int | None:
        """Messages waiting in the Celery queue (None in-process or if the broker cannot tell)."""
        if self.pool is not None:
            return None
        try:
            with self.celery.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                return conn.default_channel.queue_declare(self.queue, passive=True).message_count
        except Exception:  # noqa: BLE001 - a metric, not a reason to fail a scrape
            return None

    def ping(self) -> None:
        """Raise unless the broker answers (readiness)."""
        if self.pool is None:
            with self.celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=3)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
