"""Web UI pages for evaluation runs (list, start, live progress, report with plots) and administration (API keys:
create shows the key once, revoke; crosswalk edge reviews). Same service functions and role policies as /v1."""

from __future__ import annotations

from fastapi import Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api.deps import ADMIN, READ
from api.ui.routes import (
    CSRF_HEADER,
    FRAMEWORK_ORDER,
    MAX_PAGE,
    _page,
    _require,
    _session,
    _to_login,
    router,
    security_headers,
)
from core.errors import ClausewiseError, ErrorCode
from core.models import Role
from core.sessions import check_csrf

EDGE_PAGE = 100


@router.get("/evaluations")
def evaluations_page(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE)) -> Response:
    """Evaluation runs, newest first, with live progress; admins start one on a shipped labelled set."""
    from eval import service

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, READ)
    runs = service.list_runs(db=request.app.state.db, tenant_id=session.principal.tenant_id, page=max(page, 1),
                             page_size=50)
    return _page(request, "evaluations.html", session, runs=runs, datasets=sorted(service.shipped_datasets()))


@router.get("/evaluations/{run_id}/row")
def evaluation_row(request: Request, run_id: str) -> Response:
    """One run's table row (htmx polls it every 2 s while the run is queued or running)."""
    from eval import service

    session = _session(request)
    _require(session, READ)
    run = service.get_run(db=request.app.state.db, tenant_id=session.principal.tenant_id, run_id=run_id)
    return _page(request, "_eval_row.html", session, r=run)


@router.post("/evaluations")
async def start_evaluation(request: Request, dataset: str = Form(..., max_length=100),
                           csrf: str = Form("")) -> Response:
    """Start a run as a background job (admins), then back to the list where its row shows progress."""
    from eval import service

    session = _session(request)
    check_csrf(session, csrf or request.headers.get(CSRF_HEADER))
    _require(session, ADMIN)
    run = service.create_run(db=request.app.state.db, tenant_id=session.principal.tenant_id, dataset=dataset)
    await run_in_threadpool(request.app.state.dispatch.evaluate, run["eval_run_id"])
    return security_headers(RedirectResponse("/ui/evaluations", status_code=303))


@router.get("/evaluations/{run_id}")
def evaluation_report(request: Request, run_id: str) -> Response:
    """A finished run's report: what was run, the metrics table beside the baselines, the plots."""
    from eval import service
    from eval.report import HEAD, plot_names, table_rows

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, READ)
    run = service.get_run(db=request.app.state.db, tenant_id=session.principal.tenant_id, run_id=run_id)
    result = run.get("result")
    fmt = lambda v: "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    rows = [[fmt(v) for v in row] for row in table_rows(result)] if result else []
    return _page(request, "evaluation.html", session, r=run, head=HEAD, rows=rows,
                 plots=plot_names(result) if result else {})


@router.get("/evaluations/{run_id}/plots/{name}")
async def evaluation_plot(request: Request, run_id: str, name: str) -> Response:
    """One plot of a run as PNG, drawn from the stored result."""
    from eval import service
    from eval.report import plot_names, plot_png

    session = _session(request)
    _require(session, READ)
    run = service.get_run(db=request.app.state.db, tenant_id=session.principal.tenant_id, run_id=run_id)
    result = run.get("result")
    if not result or name not in {n for ns in plot_names(result).values() for n in ns}:
        raise ClausewiseError(ErrorCode.not_found, f"run {run_id} has no plot {name!r}")
    png = await run_in_threadpool(plot_png, result, name)
    return security_headers(Response(png, media_type="image/png"))


def _admin_context(request: Request, session, framework: str, status: str, page: int) -> dict:
    from core import auth
    from review import edges

    catalog = request.app.state.catalog
    listed = edges.list_edges(db=request.app.state.db, catalog=catalog, tenant_id=session.principal.tenant_id,
                              framework=framework or None, status=status or None)
    items = listed["items"][(page - 1) * EDGE_PAGE: page * EDGE_PAGE]
    return {"keys": auth.list_keys(request.app.state.db, session.principal.tenant_id),
            "roles": [r.value for r in Role], "edges": items, "edge_total": listed["count"],
            "edge_framework": framework, "edge_status": status, "frameworks": FRAMEWORK_ORDER, "edge_page": page,
            "edge_more": listed["count"] > page * EDGE_PAGE}


@router.get("/admin")
def admin_page(request: Request, framework: str = "", status: str = "unreviewed",
               page: int = Query(1, ge=1, le=MAX_PAGE)) -> Response:
    """Keys (create shows the key once; revoke) and crosswalk edge reviews, for admins."""
    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, ADMIN)
    return _page(request, "admin.html", session, **_admin_context(request, session, framework, status, max(page, 1)))


@router.post("/admin/keys")
def create_key(request: Request, name: str = Form(..., min_length=1, max_length=100),
               role: str = Form(...), csrf: str = Form("")) -> Response:
    """A new key in the admin's workspace. The answer shows it once; only its hash is stored."""
    from core import auth

    session = _session(request)
    check_csrf(session, csrf or request.headers.get(CSRF_HEADER))
    _require(session, ADMIN)
    if role not in {r.value for r in Role}:
        raise ClausewiseError(ErrorCode.validation_error, f"role is one of {', '.join(r.value for r in Role)}")
    row, plaintext = auth.create_key(request.app.state.db, tenant=session.principal.tenant_id, role=role,
                                     name=name.strip(), created_by=session.principal.key_id)
    ctx = _admin_context(request, session, "", "unreviewed", 1)
    return _page(request, "_key_created.html", session, new_key=plaintext, new=auth.key_public(row), **ctx)


@router.post("/admin/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str, csrf: str = Form("")) -> Response:
    """Revoke a key: it answers 401 from now on and its browser sessions end."""
    from core import auth

    session = _session(request)
    check_csrf(session, csrf or request.headers.get(CSRF_HEADER))
    _require(session, ADMIN)
    auth.revoke_key(request.app.state.db, session.principal.tenant_id, key_id)
    ctx = _admin_context(request, session, "", "unreviewed", 1)
    return _page(request, "_keys.html", session, **ctx)


@router.post("/admin/edges")
def review_edge(request: Request, from_framework: str = Form(...), from_id: str = Form(...),
                to_framework: str = Form(...), to_id: str = Form(...), verdict: str = Form(...),
                comment: str = Form("", max_length=2000), csrf: str = Form("")) -> Response:
    """Accept, dispute or reject a crosswalk edge for this workspace; answers with the edge's updated row."""
    from review import edges

    session = _session(request)
    check_csrf(session, csrf or request.headers.get(CSRF_HEADER))
    _require(session, ADMIN)
    out = edges.review_edge(db=request.app.state.db, catalog=request.app.state.catalog, principal=session.principal,
                            from_framework=from_framework, from_id=from_id, to_framework=to_framework, to_id=to_id,
                            verdict=verdict, comment=comment or None)
    out["status"] = out["review"]["verdict"]
    return _page(request, "_edge_row.html", session, e=out)
