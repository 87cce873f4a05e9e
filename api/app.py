"""The application factory."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api.errors import install_error_handlers
from api.routes import catalog as catalog_routes
from api.routes import documents, evaluations, health, suggestions
from catalog import load_catalog
from core.db import Database
from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("clausewise.api")


class Dispatch:
    """Where long jobs go: a Celery broker, or (task_always_eager) a background thread of this process."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.pool: ThreadPoolExecutor | None = None
        if settings.task_always_eager:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")
            self.runtime = runtime
        else:
            from core.jobs import make_celery

            self.celery = make_celery(settings)

    def _inline(self, fn, *args) -> None:
        fut = self.pool.submit(fn, *args)
        fut.add_done_callback(lambda f: f.exception() and log.error("inline job failed", exc_info=f.exception()))

    def ingest(self, document_id: str, job_id: str) -> None:
        """Queue ingestion (then classification); the job id is the Celery task id."""
        from core.jobs import INGEST_TASK

        if self.pool is not None:
            from api.jobs import ingest_and_classify

            return self._inline(ingest_and_classify, self.runtime, document_id, job_id)
        self.celery.send_task(INGEST_TASK, args=[document_id, job_id], task_id=job_id)

    def evaluate(self, run_id: str) -> None:
        from core.jobs import EVAL_TASK

        if self.pool is not None:
            from eval.service import execute_run

            return self._inline(lambda: execute_run(db=self.runtime.db, run_id=run_id))
        self.celery.send_task(EVAL_TASK, args=[run_id], task_id=run_id)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the app around one Settings object; the catalog is loaded and validated before serving."""
    settings = settings or Settings()
    catalog = load_catalog()
    runtime = Runtime(settings, db=db)
    dispatch = Dispatch(settings, runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        dispatch.close()
        if db is None:
            runtime.db.dispose()

    app = FastAPI(title="Clausewise", version="0.1.0", lifespan=lifespan,
                  description="Which ISO/IEC 42001, NIST CSF 2.0 and OWASP NHI controls does this evidence prove?")
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.runtime = runtime
    app.state.db = runtime.db
    app.state.dispatch = dispatch
    install_error_handlers(app)

    v1 = APIRouter(prefix="/v1")
    v1.include_router(health.router)
    v1.include_router(catalog_routes.router)
    v1.include_router(documents.router)
    v1.include_router(suggestions.router)
    v1.include_router(evaluations.router)
    app.include_router(v1)
    return app
