"""Ingestion jobs: delivery counting around ingest.pipeline (the Celery task itself lives in api.jobs)."""

from __future__ import annotations

import logging
import os
import socket

from core import telemetry
from core.errors import ErrorCode
from core.jobs import MAX_DELIVERIES
from core.models import Document, DocumentStatus, Job
from core.runtime import Runtime
from ingest.pipeline import fail_document, index_document, index_documents

log = logging.getLogger("clausewise.worker")


def _claimable(rt: Runtime, document_id: str, job_id: str) -> str | None:
    """None if the job should run now; otherwise the status it already has (or ends with)."""
    with rt.db.session() as s:
        job, doc = s.get(Job, job_id), s.get(Document, document_id)
        if doc is None or job is None:
            log.warning("job %s for missing document %s dropped", job_id, document_id)
            return "missing"
        if doc.status in (DocumentStatus.indexed.value, DocumentStatus.failed.value):
            return doc.status  # a redelivered task that already finished does nothing
        attempts = job.attempts
    if attempts >= MAX_DELIVERIES:
        fail_document(rt, document_id, job_id, ErrorCode.worker_crash,
                      f"the worker died {attempts} times while processing this document")
        return DocumentStatus.failed.value
    return None


def run_ingest_job(rt: Runtime, document_id: str, job_id: str) -> str:
    """One delivery of an ingestion job. Counts deliveries so a file that kills its worker ends `failed`."""
    token = telemetry.job_id.set(job_id)
    try:
        done = _claimable(rt, document_id, job_id)
        if done is not None:
            log.info("job already %s", done, extra={"document_id": document_id})
            return done
        log.info("job started", extra={"document_id": document_id})
        status = index_document(rt, document_id, job_id)
        with rt.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None:  # which process ran it, for operators (and the two-worker test)
                job.timings = {**(job.timings or {}), "worker": f"{socket.gethostname()}:{os.getpid()}"}
            telemetry.observe_job(job.timings if job else {}, status)
        log.info("job %s", status, extra={"document_id": document_id})
        return status
    finally:
        telemetry.job_id.reset(token)


def run_ingest_jobs(rt: Runtime, jobs: list[tuple[str, str]], on_done=None, lookahead: bool = True) -> list[str]:
    """Many jobs in this process, partitioning ahead while embedding (bulk ingest from the CLI)."""
    runnable, statuses = [], {}
    for document_id, job_id in jobs:
        done = _claimable(rt, document_id, job_id)
        if done is None:
            runnable.append((document_id, job_id))
        else:
            statuses[job_id] = done
            if on_done:
                on_done(document_id, job_id, done)
    for (document_id, job_id), status in zip(runnable, index_documents(rt, runnable, on_done=on_done, lookahead=lookahead)):
        statuses[job_id] = status
    return [statuses[j] for _, j in jobs]
