"""The Celery application, configured from Settings (no settings read at import time)."""

from __future__ import annotations

from celery import Celery

from core.settings import Settings

HARD_TIME_LIMIT_S = 900
SOFT_TIME_LIMIT_S = 840
# Redis redelivers unacknowledged tasks after the visibility timeout; it must outlast the longest task.
VISIBILITY_TIMEOUT_S = 2 * HARD_TIME_LIMIT_S
MAX_DELIVERIES = 3
INGEST_TASK = "clausewise.ingest_document"
EVAL_TASK = "clausewise.eval_run"


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the configured broker: late acks, reject on worker loss, one task prefetched."""
    if settings.resolved_broker_url.startswith("sqla+sqlite"):
        settings.ensure_dirs()
    app = Celery("clausewise", broker=settings.resolved_broker_url, backend=settings.resolved_result_backend,
                 set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=HARD_TIME_LIMIT_S,
        task_soft_time_limit=SOFT_TIME_LIMIT_S,
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
    if settings.resolved_broker_url.startswith(("redis://", "rediss://")):
        app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT_S}
        app.conf.result_backend_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT_S}
    app.clausewise_settings = settings
    return app
