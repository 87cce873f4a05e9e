"""Operations: Prometheus metrics (an operator's admin key; scrape with a bearer token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ADMIN, PrincipalDep
from core.errors import ClausewiseError, ErrorCode

router = APIRouter(tags=["operations"])


@router.get("/metrics", dependencies=[Depends(ADMIN)], response_class=Response)
async def metrics(request: Request, principal: PrincipalDep) -> Response:
    """Prometheus text format: uploads, request latency, job durations by stage, queue depth, suggestions. The
    figures span every tenant, so only the operators read them: admins of `CLAUSEWISE_OPERATOR_TENANT`."""
    from core.auth import ensure_tenant

    settings = request.app.state.settings
    try:
        operator = ensure_tenant(request.app.state.db, settings.operator_tenant, create=False).id
    except ClausewiseError:
        operator = None
    if principal.tenant_id != operator:
        raise ClausewiseError(ErrorCode.forbidden, "metrics span every tenant: only admins of the operator tenant "
                              f"{settings.operator_tenant!r} read them")
    body = await run_in_threadpool(generate_latest, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
