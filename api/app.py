"""The application factory."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from api.deps import Allow, get_principal
from api.errors import install_error_handlers
from api.routes import catalog as catalog_routes
from api.routes import documents, evaluations, governance, health, nhi, ops, review, suggestions
from api.schemas import ErrorOut
from catalog import load_catalog
from core.db import Database
from core.runtime import Runtime
from core.settings import Settings
from worker.dispatch import Dispatch

log = logging.getLogger("clausewise.api")


def create_app(settings: Settings | None = None, *, db: Database | None = None, supervisor=None) -> FastAPI:
    """Build the app around one Settings object; the catalog is loaded and validated before serving.

    `supervisor` (from `clausewise serve`) reports the processes this app needs on this machine; readiness
    answers 503 while one of them is down."""
    settings = settings or Settings()
    catalog = load_catalog()
    runtime = Runtime(settings, db=db)
    dispatch = Dispatch(settings, runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        dispatch.close()
        runtime.close()

    app = FastAPI(title="Clausewise", version="0.1.0", lifespan=lifespan,
                  description="Which ISO/IEC 42001, NIST CSF 2.0 and OWASP NHI controls does this evidence prove?")
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.runtime = runtime
    app.state.db = runtime.db
    app.state.dispatch = dispatch
    app.state.supervisor = supervisor
    install_error_handlers(app)
    install_request_context(app)
    from api.limits import BodyLimit, RateLimiter

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.state.rate_limiter = RateLimiter()
    from core.telemetry import REGISTRY, DatabaseCollector

    collector = DatabaseCollector(runtime.db, dispatch.broker_depth)
    app.state.metrics_registry = _registry_with(REGISTRY, collector)

    v1 = APIRouter(prefix="/v1")
    v1.include_router(health.router)  # public: liveness and readiness
    # everything else needs a key: authentication is the router's, not each route's to remember
    secured = APIRouter(dependencies=[Depends(get_principal)], responses={
        code: {"model": ErrorOut, "description": text} for code, text in (
            (400, "validation_error: a body that cannot be parsed"),
            (401, "unauthenticated: no key, or an unknown or revoked one"), (403, "forbidden: the key's role may not"),
            (404, "a `*_not_found` code"), (413, "body_too_large: a request body past CLAUSEWISE_MAX_BODY_BYTES"),
            (422, "validation_error or a more specific code"))})
    for r in SECURED_ROUTERS:
        secured.include_router(r)
    v1.include_router(secured)
    app.include_router(v1)
    app.state.route_policies = route_policies()
    _install_ui(app)
    return app


def _install_ui(app: FastAPI) -> None:
    """The web UI under /ui/ (its own session auth; same service functions and role policies as /v1)."""
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    import api.ui.manage  # noqa: F401 - registers the evaluation and admin pages on the UI router
    from api.ui.routes import HERE, router

    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)


SECURED_ROUTERS = (catalog_routes.router, documents.router, suggestions.router, review.router, governance.router,
                   nhi.router, evaluations.router, ops.router)


def _registry_with(base, collector):
    """The process's metrics plus this app's database gauges (a registry per app, so tests stay apart)."""
    from prometheus_client import CollectorRegistry

    class _Both:
        def collect(self):
            yield from base.collect()
            yield from collector.collect()

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Both())
    return reg


def install_request_context(app: FastAPI) -> None:
    """Every request gets an id (the caller's X-Request-ID if sane, else a new one), echoed in the response,
    present in every log line written while it runs, and one JSON access-log line with its latency.

    A plain ASGI middleware: Starlette's `@app.middleware("http")` runs the rest of the app in a task of its own
    behind memory streams, which under load cost the API process more than the upload's own work."""
    import re
    import time
    import uuid

    from starlette.datastructures import MutableHeaders

    from api.limits import add_security_headers
    from core.telemetry import REQUESTS, request_id

    access = logging.getLogger("clausewise.access")
    sane = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

    class RequestContext:
        def __init__(self, app) -> None:
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.app(scope, receive, send)
            rid = ""
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    rid = value.decode("latin-1")
                    break
            rid = rid if sane.match(rid) else uuid.uuid4().hex
            path = scope["path"]
            token = request_id.set(rid)
            t = time.perf_counter()
            status = 500

            async def send_with_headers(message):
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = MutableHeaders(scope=message)
                    headers["X-Request-ID"] = rid
                    add_security_headers(path, headers)
                await send(message)

            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                took = time.perf_counter() - t
                route = getattr(scope.get("route"), "path", None)  # the template, not the ids in the URL
                if route is None:
                    route = "unmatched"
                elif path.startswith("/v1/") and not route.startswith("/v1/"):
                    route = "/v1" + route  # routers included under /v1 keep their own path
                REQUESTS.labels(scope["method"], route, str(status)).observe(took)
                access.info("request", extra={"method": scope["method"], "path": path, "status": status,
                                              "duration_ms": round(took * 1000, 2)})
                request_id.reset(token)

    app.add_middleware(RequestContext)


PUBLIC_PATHS = {("GET", "/v1/health"), ("GET", "/v1/ready")}


def _policy(route: APIRoute) -> Allow | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Allow):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def route_policies() -> dict[tuple[str, str], frozenset]:
    """(method, path) -> the roles allowed. Raises if a secured route declares no `Allow` policy, so a route
    cannot ship without saying who may call it."""
    out = {}
    for router in SECURED_ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            policy = _policy(route)
            if policy is None:
                raise RuntimeError(f"route {sorted(route.methods)} {route.path} declares no role policy")
            for m in route.methods:
                out[(m, "/v1" + route.path)] = policy.roles
    return out
