"""Structured logs and Prometheus metrics, shared by the API and the workers.

Logs: one JSON object per line with the request id (API) or job id (worker) of the work in hand, carried in
context variables so every log call inside a request or job gets them without passing them around.
Metrics: counters and histograms observed where the work happens (each process exposes its own; a worker can serve
them on a port), plus gauges read from the database at scrape time (queue depth, documents and suggestions by
state), so any API replica reports the same totals.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

REGISTRY = CollectorRegistry(auto_describe=True)
UPLOADS = Counter("clausewise_uploads_total", "Upload requests by outcome", ["outcome"], registry=REGISTRY)
REQUESTS = Histogram("clausewise_http_request_seconds", "HTTP request latency", ["method", "route", "status"],
                     registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
JOB_STAGE = Histogram("clausewise_job_stage_seconds", "Ingestion job duration by stage", ["stage"],
                      registry=REGISTRY, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
JOBS = Counter("clausewise_jobs_total", "Finished ingestion jobs by final status", ["status"], registry=REGISTRY)
SUGGESTIONS = Counter("clausewise_suggestions_created_total", "Suggestions written, by framework and state",
                      ["framework", "state"], registry=REGISTRY)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request/job id, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        for key, var in (("request_id", request_id), ("job_id", job_id)):
            value = getattr(record, key, None) or var.get()
            if value:
                out[key] = value
        for key in ("method", "path", "status", "duration_ms", "tenant_id", "document_id", "stage"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = True, stream=None) -> None:
    """Route the root logger (ours, uvicorn's, celery's) to stderr, as JSON lines unless told otherwise."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # one line per HTTP call to the Chroma server would drown the service's own lines
    for name in ("httpx", "httpcore", "chromadb"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def observe_job(timings: dict, status: str) -> None:
    """Record a finished job's stage durations (`<stage>_s` keys of Job.timings) and its outcome."""
    for key, value in (timings or {}).items():
        if key.endswith("_s") and not key.endswith("_cpu_s") and isinstance(value, (int, float)):
            JOB_STAGE.labels(stage=key[:-2]).observe(float(value))
    JOBS.labels(status=status).inc()


class DatabaseCollector:
    """Gauges read at scrape time: jobs waiting (the queue depth, the outbox), documents by status, current
    suggestions."""

    def __init__(self, db, broker_depth=None) -> None:
        self.db = db
        self.broker_depth = broker_depth

    def collect(self):
        from sqlalchemy import func, select

        from core.models import Document, Job, Suggestion

        with self.db.session() as s:
            jobs = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
            outbox = s.scalar(select(func.count()).select_from(Job)
                              .where(Job.published_at.is_(None), Job.state == "queued"))
            docs = dict(s.execute(select(Document.status, func.count()).group_by(Document.status)).all())
            sugg = s.execute(select(Suggestion.framework, Suggestion.state, func.count())
                             .join(Document, Document.id == Suggestion.document_id)
                             .where(Suggestion.run_id == Document.classification_run_id)
                             .group_by(Suggestion.framework, Suggestion.state)).all()
        g = GaugeMetricFamily("clausewise_queue_depth", "Ingestion jobs waiting or running", labels=["state"])
        for state in ("queued", "processing"):
            g.add_metric([state], jobs.get(state, 0))
        yield g
        yield GaugeMetricFamily("clausewise_outbox_jobs", "Accepted jobs no worker's dispatcher has published yet "
                                "(grows while no worker runs)", value=outbox)
        if self.broker_depth is not None:
            depth = self.broker_depth()
            if depth is not None:
                yield GaugeMetricFamily("clausewise_broker_queue_messages", "Messages in the Celery queue",
                                        value=depth)
        g = GaugeMetricFamily("clausewise_documents", "Documents by status", labels=["status"])
        for status, n in sorted(docs.items()):
            g.add_metric([status], n)
        yield g
        g = GaugeMetricFamily("clausewise_suggestions", "Suggestions of current classification runs",
                              labels=["framework", "state"])
        for fw, state, n in sorted(sugg):
            g.add_metric([fw, state], n)
        yield g
