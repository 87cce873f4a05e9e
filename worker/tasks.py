"""The Celery tasks: each is one flow of worker.flows run on the worker process's runtime."""

from __future__ import annotations

from celery import Celery

from core.runtime import Runtime
from worker.celery_app import EVAL_TASK, INGEST_TASK
from worker.flows import ingest_and_classify


def register_tasks(app: Celery, runtime_factory) -> None:
    """Attach the tasks to an app; the runtime is built once per worker process, on first use."""
    holder: dict[str, Runtime] = {}

    def runtime() -> Runtime:
        if "rt" not in holder:
            holder["rt"] = runtime_factory()
        return holder["rt"]

    @app.task(name=INGEST_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def ingest_document(self, document_id: str, job_id: str) -> str:
        return ingest_and_classify(runtime(), document_id, job_id)

    @app.task(name=EVAL_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def eval_run(self, run_id: str) -> str:
        from eval.service import execute_run

        return execute_run(db=runtime().db, run_id=run_id)

    app.clausewise_runtime = runtime
