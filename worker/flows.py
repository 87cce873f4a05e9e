"""The flows that chain ingestion and classification (they sit above both), and the process-wide classifier
and LLM verifier they use. Celery tasks (worker.tasks), the API's in-process dispatch and the CLI's `ingest` all
run these same functions."""

from __future__ import annotations

import logging
import threading
import time

from catalog import load_catalog
from core.models import Document, Job
from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("clausewise.jobs")
_lock = threading.Lock()
_classifiers: dict[str, object] = {}


def get_classifier(settings: Settings):
    """The process-wide classifier (control index built once per catalog version and embedder)."""
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder

    key = str(settings.data_dir)
    with _lock:
        if key not in _classifiers:
            _classifiers[key] = Classifier(load_catalog(), get_embedder(), cache_dir=settings.data_dir / "cache")
        return _classifiers[key]


def get_verifier(settings: Settings):
    """The process-wide LLM verifier for the settings' llm_* fields, or None (llm_mode=none or no model)."""
    if settings.llm_mode == "none":
        return None
    from classifiers.llm import verifier_from_settings

    key = "llm|" + "|".join(str(getattr(settings, f)) for f in (
        "data_dir", "llm_mode", "llm_base_url", "llm_model", "llm_timeout_s", "llm_max_calls_per_document",
        "llm_max_tokens_per_document", "llm_candidates"))
    with _lock:
        if key not in _classifiers:
            _classifiers[key] = verifier_from_settings(settings, load_catalog())
        return _classifiers[key]


def classify(rt: Runtime, tenant_id: str, document_id: str) -> dict:
    """Classify a document; the supervised part also learns from this tenant's reviewer decisions on other
    documents (confirmed controls vote for, rejected ones against)."""
    from classifiers.suggest import suggest_document
    from review.feedback import tenant_examples

    classifier = get_classifier(rt.settings)
    learned = tenant_examples(db=rt.db, vectors=rt.vectors, tenant_id=tenant_id, exclude_document=document_id)
    out = suggest_document(db=rt.db, vectors=rt.vectors, classifier=classifier, tenant_id=tenant_id,
                           document_id=document_id, verifier=get_verifier(rt.settings),
                           examples=classifier.examples.extended(learned))
    return {**out, "tenant_examples": len(learned)}


def ingest_and_classify(rt: Runtime, document_id: str, job_id: str) -> str:
    """Run ingestion; an indexed document is classified at once. A classification failure keeps it indexed."""
    from worker.jobs import run_ingest_job

    status = run_ingest_job(rt, document_id, job_id)
    if status == "indexed":
        classify_indexed(rt, document_id, job_id)
    return status


def ingest_and_classify_many(rt: Runtime, jobs: list[tuple[str, str]], on_done=None) -> list[str]:
    """The same flow for many documents in this process (the CLI's `ingest`): partitioning runs ahead while
    the previous document embeds, and each indexed document is classified as it finishes."""
    from worker.jobs import run_ingest_jobs

    def finished(document_id: str, job_id: str, status: str) -> None:
        if status == "indexed":
            classify_indexed(rt, document_id, job_id)
        if on_done:
            on_done(document_id, job_id, status)

    return run_ingest_jobs(rt, jobs, on_done=finished)


def classify_indexed(rt: Runtime, document_id: str, job_id: str) -> None:
    """Classify a document its job just indexed, once per job; a failure is recorded on the job."""
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        doc = s.get(Document, document_id)
        # the suggestions and the document's run id commit together: a run id means this job's classification
        # already happened (a redelivered job, or a worker killed after classifying)
        tenant_id, already = job.tenant_id, doc.classification_run_id is not None or "classify_s" in (job.timings or {})
    if already:
        return
    t = time.perf_counter()
    try:
        result = classify(rt, tenant_id, document_id)
        extra = {"classify_s": round(time.perf_counter() - t, 4), "suggestions": result["suggestions"]}
    except Exception as e:  # noqa: BLE001 - the document stays indexed; POST .../classify retries
        log.exception("classification of %s failed", document_id)
        extra = {"classify_s": round(time.perf_counter() - t, 4), "classify_error": str(e)[:300]}
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        job.timings = {**(job.timings or {}), **extra}
