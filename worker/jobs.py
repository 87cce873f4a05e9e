"""Ingestion jobs: claim the job's lease, run ingest.pipeline, give the lease back (the Celery task is in
worker.tasks, the flow that classifies afterwards in worker.flows). A job is only ever run by the holder of its
lease (core/leases.py), so a duplicate delivery is dropped and a job whose worker died is run again by the recovery
sweep, or failed after three attempts."""

from __future__ import annotations

import logging
import os
import socket

from core import telemetry
from core.errors import ErrorCode
from core.leases import MAX_ATTEMPTS, ClaimOutcome, LeaseKeeper
from core.models import Job
from core.runtime import Runtime
from ingest.pipeline import fail_document, index_document, index_documents

log = logging.getLogger("clausewise.worker")


def keeper_for(rt: Runtime) -> LeaseKeeper:
    return LeaseKeeper(rt.db, rt.settings.job_lease_s, rt.settings.job_time_limit_s)


def _claim(rt: Runtime, keeper: LeaseKeeper, document_id: str, job_id: str) -> str | None:
    """None if this process now holds the job's lease and should run it; otherwise the status to report."""
    got = keeper.claim(job_id)
    if got.outcome is ClaimOutcome.claimed:
        return None
    if got.outcome is ClaimOutcome.missing:
        log.warning("job %s for missing document %s dropped", job_id, document_id)
        return "missing"
    if got.outcome is ClaimOutcome.finished:
        return got.status  # a redelivered task that already finished does nothing
    if got.outcome is ClaimOutcome.held:
        log.info("job %s is held by a live worker; this delivery is a duplicate and is dropped", job_id)
        return "held"
    fail_document(rt, document_id, job_id, ErrorCode.worker_crash,
                  f"the worker died {got.attempts} times while processing this document")
    return "failed"


def run_ingest_job(rt: Runtime, document_id: str, job_id: str, keeper: LeaseKeeper | None = None) -> str:
    """One delivery of an ingestion job: runs it only if this process gets the job's lease."""
    token = telemetry.job_id.set(job_id)
    own = keeper is None
    keeper = keeper or keeper_for(rt)
    try:
        done = _claim(rt, keeper, document_id, job_id)
        if done is not None:
            log.info("job already %s", done, extra={"document_id": document_id})
            return done
        log.info("job started", extra={"document_id": document_id})
        try:
            status = index_document(rt, document_id, job_id)
        except Exception:
            # not the document's fault as far as we know (a store restarting, a lost connection): the lease is
            # left to expire and the recovery sweep runs the job again, at most MAX_ATTEMPTS times in all
            keeper.abandon(job_id)
            log.exception("job %s stopped by an unexpected error; it will be retried", job_id)
            raise
        keeper.release(job_id)
        with rt.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None:  # which process ran it, for operators (and the two-worker test)
                job.timings = {**(job.timings or {}), "worker": f"{socket.gethostname()}:{os.getpid()}"}
            telemetry.observe_job(job.timings if job else {}, status)
        log.info("job %s", status, extra={"document_id": document_id})
        return status
    finally:
        if own:
            keeper.close()
        telemetry.job_id.reset(token)


def run_ingest_jobs(rt: Runtime, jobs: list[tuple[str, str]], on_done=None, lookahead: bool = True) -> list[str]:
    """Many jobs in this process, partitioning ahead while embedding (bulk ingest from the CLI). Each job is
    claimed just before it starts and released when it ends, like a worker's."""
    keeper = keeper_for(rt)
    claimed: set[str] = set()

    def gate(document_id: str, job_id: str) -> str | None:
        done = _claim(rt, keeper, document_id, job_id)
        if done is None:
            claimed.add(job_id)
        return done

    def finished(document_id: str, job_id: str, status: str) -> None:
        if job_id in claimed:
            keeper.release(job_id)
        if on_done:
            on_done(document_id, job_id, status)

    try:
        return index_documents(rt, jobs, on_done=finished, lookahead=lookahead, gate=gate)
    finally:
        keeper.close()


__all__ = ["MAX_ATTEMPTS", "run_ingest_job", "run_ingest_jobs", "keeper_for"]
