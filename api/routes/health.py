"""Liveness and readiness (both public: probes carry no keys)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import CatalogDep, SettingsDep
from api.schemas import HealthOut, ReadyOut
from core.errors import ErrorCode

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(settings: SettingsDep, catalog: CatalogDep) -> dict:
    """Report that the process is up, with the catalog version it serves."""
    return {"status": "ok", "version": _version(), "catalog_version": catalog.version, "env": settings.env}


def _check(fn) -> dict:
    t = time.perf_counter()
    try:
        fn()
        return {"ok": True, "ms": round((time.perf_counter() - t) * 1000, 1)}
    except Exception as e:  # noqa: BLE001 - readiness reports any failure as not ready
        return {"ok": False, "ms": round((time.perf_counter() - t) * 1000, 1),
                "error": f"{type(e).__name__}: {e}"[:300]}


def _database(request: Request) -> None:
    from sqlalchemy import text

    with request.app.state.db.engine.connect() as conn:
        conn.execute(text("select 1"))


NOT_READY = "not_ready: a dependency does not answer, or a process `serve` runs (worker, vector store) is down"


@router.get("/ready", responses={200: {"model": ReadyOut}, 503: {"model": ReadyOut, "description": NOT_READY}})
async def ready(request: Request) -> JSONResponse:
    """Check the database, the broker (unless jobs run in-process), the vector store and, under `clausewise
    serve`, the processes it supervises; `detail` names what is not ready."""
    rt, dispatch = request.app.state.runtime, request.app.state.dispatch
    children = request.app.state.supervisor.status() if request.app.state.supervisor else {}
    checks = {
        "database": await run_in_threadpool(_check, lambda: _database(request)),
        "broker": await run_in_threadpool(_check, dispatch.ping),
    }
    store = children.get("vector_store")
    checks["vector_store"] = (store if store and not store["ok"]
                              else await run_in_threadpool(_check, lambda: rt.vectors.heartbeat()))
    if "worker" in children:
        checks["worker"] = children["worker"]
    down = [name for name, c in checks.items() if not c["ok"]]
    body = {"status": "not_ready" if down else "ready", "checks": checks}
    if down:
        body["error_code"] = ErrorCode.not_ready.value
        body["detail"] = "not ready: " + ", ".join(
            f"{name} ({checks[name].get('error', 'down')})" for name in down)
    return JSONResponse(body, status_code=503 if down else 200)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clausewise")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"
