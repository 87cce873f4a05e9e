"""Evaluation runs as stored jobs: create, run (in a worker), read and list."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from core.errors import ClausewiseError, ErrorCode
from core.models import EvalRun, EvalRunState, utcnow

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"


def shipped_datasets() -> dict[str, Path]:
    """Name -> path of every set shipped in eval/datasets: `NAME.jsonl` texts and `NAME/manifest.jsonl` file sets."""
    out = {p.stem: p for p in DATASETS_DIR.glob("*.jsonl")}
    out.update({p.parent.name: p for p in DATASETS_DIR.glob("*/manifest.jsonl")})
    return out


def dataset_path(name: str) -> Path:
    """A dataset shipped with the service, by name (never an arbitrary server path)."""
    known = shipped_datasets()
    if name not in known:
        raise ClausewiseError(ErrorCode.dataset_not_found, f"no dataset {name!r}", known=sorted(known))
    return known[name]


def run_public(r: EvalRun, *, full: bool = False) -> dict:
    out = {"eval_run_id": r.id, "dataset": r.dataset, "dataset_sha256": r.dataset_sha256, "state": r.state,
           "percent": r.percent, "classifier_version": r.classifier_version, "error": r.error,
           "created_at": r.created_at.isoformat() if r.created_at else None,
           "finished_at": r.finished_at.isoformat() if r.finished_at else None}
    if r.result:
        out["frameworks"] = r.result.get("frameworks")
        out["baselines"] = r.result.get("baselines")
        if full:
            out["result"] = r.result
    return out


def create_run(*, db, tenant_id: str, dataset: str) -> dict:
    dataset_path(dataset)
    with db.session() as s:
        r = EvalRun(tenant_id=tenant_id, dataset=dataset, state=EvalRunState.queued)
        s.add(r)
        s.flush()
        return run_public(r)


def execute_run(*, db, run_id: str) -> str:
    """Run a stored evaluation (called by the worker); progress and the result land on the row."""
    from eval.run import run

    with db.session() as s:
        r = s.get(EvalRun, run_id)
        if r is None or r.state in (EvalRunState.done, EvalRunState.failed):
            return r.state if r else "missing"
        r.state, r.percent, dataset = EvalRunState.running, 1, r.dataset

    def progress(done: int, total: int) -> None:
        with db.session() as s:
            s.get(EvalRun, run_id).percent = max(1, int(90 * done / max(total, 1)))

    try:
        result = run(dataset_path(dataset), on_progress=progress)
    except Exception as e:  # noqa: BLE001 - recorded on the run
        with db.session() as s:
            r = s.get(EvalRun, run_id)
            r.state, r.error, r.finished_at = EvalRunState.failed, f"{type(e).__name__}: {e}"[:2000], utcnow()
        return "failed"
    import json

    with db.session() as s:
        r = s.get(EvalRun, run_id)
        r.result = json.loads(json.dumps(result, default=float))
        r.dataset_sha256, r.classifier_version = result["dataset"]["sha256"], result["classifier_version"]
        r.state, r.percent, r.finished_at = EvalRunState.done, 100, utcnow()
    return "done"


def get_run(*, db, tenant_id: str, run_id: str) -> dict:
    with db.session() as s:
        r = s.scalar(select(EvalRun).where(EvalRun.id == run_id, EvalRun.tenant_id == tenant_id))
        if r is None:
            raise ClausewiseError(ErrorCode.eval_run_not_found, f"no evaluation run {run_id}")
        return run_public(r, full=True)


def list_runs(*, db, tenant_id: str, page: int, page_size: int) -> dict:
    with db.session() as s:
        q = select(EvalRun).where(EvalRun.tenant_id == tenant_id)
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.scalars(q.order_by(EvalRun.created_at.desc()).offset((page - 1) * page_size).limit(page_size)).all()
        return {"items": [run_public(r) for r in rows], "total": total, "page": page, "page_size": page_size}
