"""Where the API sends long jobs: a Celery broker, or (task_always_eager) a background thread of this process
that runs the same flows a worker runs."""

from __future__ import annotations

import logging
import queue
import threading
import time
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
            # The outbox: an upload answers once its job row is committed; one thread publishes the job to the
            # broker after that (the broker publish was a third of the upload's server time, and under load its
            # SQLite write lock queued the requests). A publish that fails after retries, or one still in the
            # outbox when the process is killed, is not lost: the job row stays `queued`, and the workers'
            # recovery sweep delivers every job not started within the job time limit.
            self._outbox: queue.Queue = queue.Queue()
            self._publisher = threading.Thread(target=self._publish_loop, name="outbox", daemon=True)
            self._publisher.start()

    def _inline(self, fn, *args) -> None:
        fut = self.pool.submit(fn, *args)
        fut.add_done_callback(lambda f: f.exception() and log.error("inline job failed", exc_info=f.exception()))

    def ingest(self, document_id: str, job_id: str) -> None:
        """Queue ingestion (then classification); the job id is the Celery task id."""
        from worker.celery_app import INGEST_TASK

        if self.pool is not None:
            from worker.flows import ingest_and_classify

            return self._inline(ingest_and_classify, self.runtime, document_id, job_id)
        self._outbox.put((INGEST_TASK, [document_id, job_id], job_id))

    def _publish_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                self._outbox.task_done()
                return
            name, args, task_id = item
            for attempt in range(5):
                try:
                    self.celery.send_task(name, args=args, task_id=task_id)
                    break
                except Exception as e:  # noqa: BLE001 - retried; the sweep delivers what never went out
                    if attempt == 4:
                        log.error("could not publish job %s after 5 attempts (%s); the recovery sweep will "
                                  "deliver it", task_id, e)
                    else:
                        time.sleep(0.2 * 2 ** attempt)
            self._outbox.task_done()

    def pending_publishes(self) -> int:
        """Jobs accepted but not yet handed to the broker (0 in-process)."""
        return 0 if self.pool is not None else self._outbox.qsize()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until the outbox is empty (tests, shutdown); False if it is not within the timeout."""
        deadline = time.monotonic() + timeout_s
        while self.pool is None and self._outbox.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

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
        else:   # publish what was accepted before stopping (a SIGTERM'd API loses nothing on its way out)
            self._outbox.put(None)
            self._publisher.join(timeout=30)
