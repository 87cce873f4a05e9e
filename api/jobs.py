"""The job that chains ingestion and classification (it sits above both) and the per-process classifier."""

from __future__ import annotations

import logging
import threading
import time

from celery import Celery

from catalog import load_catalog
from core.jobs import EVAL_TASK, INGEST_TASK
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
    from classifiers.feedback import tenant_examples
    from classifiers.suggest import suggest_document

    classifier = get_classifier(rt.settings)
    learned = tenant_examples(db=rt.db, vectors=rt.vectors, tenant_id=tenant_id, exclude_document=document_id)
    out = suggest_document(db=rt.db, vectors=rt.vectors, classifier=classifier, tenant_id=tenant_id,
                           document_id=document_id, verifier=get_verifier(rt.settings),
                           examples=classifier.examples.extended(learned))
    return {**out, "tenant_examples": len(learned)}


def ingest_and_classify(rt: Runtime, document_id: str, job_id: str) -> str:
    """Run ingestion; an indexed document is classified at once. A classification failure keeps it indexed."""
    from ingest.tasks import run_ingest_job

    status = run_ingest_job(rt, document_id, job_id)
    if status != "indexed":
        return status
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        doc = s.get(Document, document_id)
        # the suggestions and the document's run id commit together: a run id means this job's classification
        # already happened (a redelivered job, or a worker killed after classifying)
        tenant_id, already = job.tenant_id, doc.classification_run_id is not None or "classify_s" in (job.timings or {})
    if already:
        return status
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
    return status


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
