"""Suggestions: classify a document again, read its ranked suggestions per framework."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import CLASSIFY, READ, CatalogDep, PrincipalDep, RuntimeDep, TenantDep
from api.schemas import ClassifyOut, SuggestionsOut, error_responses
from classifiers.suggest import list_suggestions
from worker.flows import classify

router = APIRouter(tags=["suggestions"])


@router.post("/documents/{document_id}/classify", dependencies=[Depends(CLASSIFY)], response_model=ClassifyOut,
             responses=error_responses(409, 429, 503))
async def classify_document(document_id: str, request: Request, rt: RuntimeDep, tenant_id: TenantDep,
                            principal: PrincipalDep) -> dict:
    """Run the classifier again on an indexed document; earlier suggestion runs are kept (rate-limited per key)."""
    request.app.state.rate_limiter.take(principal.key_id, "classify", rt.settings.rate_classify_per_minute)
    return await run_in_threadpool(classify, rt, tenant_id, document_id)


@router.get("/documents/{document_id}/suggestions", dependencies=[Depends(READ)], response_model=SuggestionsOut)
def get_suggestions(document_id: str, rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep,
                    framework: str | None = Query(None, description="e.g. ISO-IEC-42001-2023")) -> dict:
    """The latest run's suggestions, ranked per framework, with quotes, confidences and crosswalk paths."""
    return list_suggestions(db=rt.db, catalog=catalog, tenant_id=tenant_id, document_id=document_id,
                            framework=framework)
