"""Evaluation runs over HTTP: start one as a job, follow its progress, read its metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import ADMIN, READ, RuntimeDep, TenantDep
from api.schemas import EvalRunOut, EvalRunPage
from eval import service

router = APIRouter(prefix="/eval-runs", tags=["evaluation"])


class EvalRunCreate(BaseModel):
    dataset: str = Field(..., description="A labelled set shipped in eval/datasets, by name, e.g. evidence-dev")


@router.post("", status_code=202, dependencies=[Depends(ADMIN)], response_model=EvalRunOut)
async def create_eval_run(body: EvalRunCreate, request: Request, rt: RuntimeDep, tenant_id: TenantDep) -> dict:
    """Start an evaluation run as a background job; 202 with its id."""
    run = service.create_run(db=rt.db, tenant_id=tenant_id, dataset=body.dataset)
    await run_in_threadpool(request.app.state.dispatch.evaluate, run["eval_run_id"])
    return run


@router.get("", dependencies=[Depends(READ)], response_model=EvalRunPage)
def list_eval_runs(rt: RuntimeDep, tenant_id: TenantDep, page: int = Query(1, ge=1, le=1_000_000),
                   page_size: int = Query(50, ge=1, le=200)) -> dict:
    """Stored evaluation runs, newest first."""
    return service.list_runs(db=rt.db, tenant_id=tenant_id, page=page, page_size=page_size)


@router.get("/{run_id}", dependencies=[Depends(READ)], response_model=EvalRunOut)
def get_eval_run(run_id: str, rt: RuntimeDep, tenant_id: TenantDep) -> dict:
    """One run: state, percent and, when done, the full metrics JSON."""
    return service.get_run(db=rt.db, tenant_id=tenant_id, run_id=run_id)
