"""The Celery application, configured from Settings (no settings read at import time)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from celery import Celery

from core.settings import Settings


def time_limits(settings: Settings) -> tuple[int, int, int]:
    """(hard, soft, visibility timeout) in seconds. Redis redelivers an unacknowledged task after the visibility
    timeout, so it is twice the hard limit: a running task is never handed to a second worker."""
    hard = settings.job_time_limit_s
    return hard, max(hard - 60, int(hard * 0.9)), 2 * hard
INGEST_TASK = "clausewise.ingest_document"
EVAL_TASK = "clausewise.eval_run"


def sqlite_broker_connect(path: Path):
    """Connections to the embedded SQLite broker in WAL mode with synchronous=NORMAL.

    The broker is a delivery queue, not the record: the job row, committed with a full sync before the upload is
    answered, is. NORMAL skips the fsync per published message (kombu commits each message on its own; with the
    default rollback journal every publish cost several fsyncs and held the broker's write lock through them). A
    crash of any process loses nothing; a power cut may lose the last messages, and the recovery sweep delivers
    their jobs again, as it does for any job never delivered within the job time limit.
    """
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
    return connect


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the configured broker: late acks, reject on worker loss, one task prefetched."""
    if settings.resolved_broker_url.startswith("sqla+sqlite"):
        settings.ensure_dirs()
    hard, soft, visibility = time_limits(settings)
    app = Celery("clausewise", broker=settings.resolved_broker_url, backend=settings.resolved_result_backend,
                 set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=hard,
        task_soft_time_limit=soft,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_track_started=True,
        result_expires=24 * 3600,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_default_queue=settings.queue_name,
    )
    if settings.resolved_broker_url.startswith("sqla+sqlite:///"):
        path = Path(settings.resolved_broker_url.removeprefix("sqla+sqlite:///"))
        app.conf.broker_transport_options = {"creator": sqlite_broker_connect(path)}
    if settings.resolved_broker_url.startswith(("redis://", "rediss://")):
        app.conf.broker_transport_options = {"visibility_timeout": visibility}
        app.conf.result_backend_transport_options = {"visibility_timeout": visibility}
    app.clausewise_settings = settings
    return app
