"""Operations: Prometheus metrics (admin key; scrape with a bearer token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ADMIN

router = APIRouter(tags=["operations"])


@router.get("/metrics", dependencies=[Depends(ADMIN)], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: uploads, request latency, job durations by stage, queue depth, suggestions."""
    body = await run_in_threadpool(generate_latest, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
