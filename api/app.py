"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api.errors import install_error_handlers
from api.routes import catalog as catalog_routes
from api.routes import documents, health, suggestions
from catalog import load_catalog
from core.db import Database
from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("clausewise.api")
Enqueue = Callable[[str, str], None]


def celery_enqueue(settings: Settings) -> Enqueue:
    """Send ingestion jobs to the configured broker; the job id is the Celery task id."""
    from core.jobs import INGEST_TASK, make_celery

    app = make_celery(settings)

    def enqueue(document_id: str, job_id: str) -> None:
        app.send_task(INGEST_TASK, args=[document_id, job_id], task_id=job_id)

    return enqueue


def inline_enqueue(rt: Runtime) -> Enqueue:
    """Run jobs in a background thread of this process (CLAUSEWISE_TASK_ALWAYS_EAGER; no broker)."""
    from api.jobs import ingest_and_classify

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def enqueue(document_id: str, job_id: str) -> None:
        fut = pool.submit(ingest_and_classify, rt, document_id, job_id)
        fut.add_done_callback(lambda f: f.exception() and log.error("inline job failed", exc_info=f.exception()))

    enqueue.pool = pool  # type: ignore[attr-defined]
    return enqueue


def create_app(settings: Settings | None = None, *, db: Database | None = None,
               enqueue: Enqueue | None = None) -> FastAPI:
    """Build the app around one Settings object; the catalog is loaded and validated before serving."""
    settings = settings or Settings()
    catalog = load_catalog()
    runtime = Runtime(settings, db=db)
    if enqueue is None:
        enqueue = inline_enqueue(runtime) if settings.task_always_eager else celery_enqueue(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool = getattr(enqueue, "pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
        if db is None:
            runtime.db.dispose()

    app = FastAPI(title="Clausewise", version="0.1.0", lifespan=lifespan,
                  description="Which ISO/IEC 42001, NIST CSF 2.0 and OWASP NHI controls does this evidence prove?")
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.runtime = runtime
    app.state.db = runtime.db
    app.state.enqueue = enqueue
    install_error_handlers(app)

    v1 = APIRouter(prefix="/v1")
    v1.include_router(health.router)
    v1.include_router(catalog_routes.router)
    v1.include_router(documents.router)
    v1.include_router(suggestions.router)
    app.include_router(v1)
    return app
