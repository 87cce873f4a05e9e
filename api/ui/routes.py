"""Web UI pages: sign in with an API key, documents and upload, the review page with highlighted passages.

Same service functions as the API (no HTTP calls to ourselves), same role policies: a page shows only what the
session's role may do and every POST is checked again (403), with the session's CSRF token. Documents are hostile:
Jinja2 escapes every value, the Content-Security-Policy allows no inline script and nothing from elsewhere, and a
document's text is only ever rendered as text.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from api.deps import EXPORT, READ, REVIEW, UPLOAD, Allow
from api.routes.review import MappingIn
from core.errors import ClausewiseError, ErrorCode
from core.models import Chunk, Document, Suggestion
from core.scoping import tenant_document
from core.sessions import Session, check_csrf, end_session, session_for, start_session
from review.models import Decision, ReasonCode

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
COOKIE = "cw_session"
CSRF_HEADER = "x-csrf-token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
FRAMEWORK_ORDER = ("ISO-IEC-42001-2023", "NIST-CSF-2.0", "OWASP-NHI-TOP10-2025")

router = APIRouter(prefix="/ui", include_in_schema=False)


def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def _session(request: Request) -> Session:
    s = request.app.state.settings
    return session_for(request.app.state.db, request.cookies.get(COOKIE), idle_s=s.ui_session_idle_s,
                       max_s=s.ui_session_max_s)


def _may(session: Session, policy: Allow) -> bool:
    return session.principal.role in policy.roles


def _require(session: Session, policy: Allow) -> None:
    if not _may(session, policy):
        raise ClausewiseError(ErrorCode.forbidden, f"role {session.principal.role.value!r} may not do this",
                              allowed_roles=sorted(r.value for r in policy.roles))


def _page(request: Request, name: str, session: Session | None, **context) -> HTMLResponse:
    can = {"upload": session is not None and _may(session, UPLOAD),
           "review": session is not None and _may(session, REVIEW)}
    ctx = {"session": session, "role": session.principal.role.value if session else None,
           "csrf": session.csrf_token if session else "", "can": can, **context}
    return security_headers(templates.TemplateResponse(request, name, ctx))


def _to_login(request: Request) -> RedirectResponse:
    return security_headers(RedirectResponse(f"/ui/login?next={quote(request.url.path)}", status_code=303))


@router.get("/login")
def login_form(request: Request, next: str = "/ui/", error: str | None = None) -> HTMLResponse:
    return _page(request, "login.html", None, next=next if next.startswith("/ui/") else "/ui/", error=error)


@router.post("/login")
def login(request: Request, api_key: str = Form(..., max_length=200), next: str = Form("/ui/")) -> Response:
    """Exchange an API key for a session cookie (HttpOnly, SameSite=Strict, Secure outside development)."""
    try:
        token, _ = start_session(request.app.state.db, api_key.strip())
    except ClausewiseError:
        return _page(request, "login.html", None, next="/ui/", error="That key is unknown or revoked.")
    settings = request.app.state.settings
    resp = RedirectResponse(next if next.startswith("/ui/") else "/ui/", status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=settings.env != "development",
                    max_age=settings.ui_session_max_s, path="/ui")
    return security_headers(resp)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    session = _session(request)
    check_csrf(session, csrf)
    end_session(request.app.state.db, request.cookies.get(COOKIE))
    resp = RedirectResponse("/ui/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/ui")
    return security_headers(resp)


@router.get("/")
def documents_page(request: Request, page: int = 1) -> Response:
    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    from ingest.service import list_documents

    docs = list_documents(db=request.app.state.db, tenant_id=session.principal.tenant_id, page=max(page, 1),
                          page_size=50)
    return _page(request, "documents.html", session, docs=docs)


@router.get("/documents/status")
def documents_status(request: Request, ids: str = "") -> JSONResponse:
    """Status of the listed documents, for live upload progress."""
    session = _session(request)
    wanted = [i for i in ids.split(",") if i][:100]
    with request.app.state.db.session() as s:
        rows = s.scalars(select(Document).where(Document.tenant_id == session.principal.tenant_id,
                                                Document.id.in_(wanted))).all() if wanted else []
        out = {d.id: {"status": d.status.value, "error_code": d.error_code, "chunk_count": d.chunk_count}
               for d in rows}
    return security_headers(JSONResponse(out))


@router.post("/documents")
async def upload(request: Request) -> Response:
    """One file per request (the page sends several in parallel), the API's upload path with the session's key."""
    from api.routes.documents import _upload

    session = _session(request)
    check_csrf(session, request.headers.get(CSRF_HEADER))
    _require(session, UPLOAD)
    return security_headers(await _upload(request, request.app.state.runtime, session.principal.tenant_id,
                                          session.principal))


def _review_context(db, catalog, tenant_id: str, document_id: str) -> dict:
    """The document's passages in order, with the current run's suggestions per framework and where each points."""
    with db.session() as s:
        doc = tenant_document(s, tenant_id, document_id)
        chunks = s.scalars(select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.idx)).all()
        sugg = s.scalars(select(Suggestion).where(Suggestion.document_id == doc.id,
                                                  Suggestion.run_id == (doc.classification_run_id or ""))
                         .order_by(Suggestion.framework, Suggestion.rank)).all()
        latest: dict[str, Decision] = {}   # the effective (latest) decision per suggestion of this run
        history: dict[str, list[dict]] = {}
        for d in s.scalars(select(Decision).where(Decision.tenant_id == tenant_id,
                                                  Decision.document_id == doc.id).order_by(Decision.seq)):
            latest[d.suggestion_id] = d
            history.setdefault(d.suggestion_id, []).append({
                "decision": d.decision.value, "reason_code": d.reason_code.value if d.reason_code else None,
                "comment": d.comment, "actor": d.actor, "at": d.created_at.isoformat()[:16] if d.created_at else ""})
        by_chunk: dict[str, list[str]] = {}
        items = []
        for sg in sugg:
            by_chunk.setdefault(sg.chunk_id, []).append(sg.id)
            d = latest.get(sg.id)
            items.append({
                "id": sg.id, "framework": sg.framework, "control_id": sg.control_id, "rank": sg.rank,
                "title": catalog.control(sg.framework, sg.control_id).title, "confidence": sg.confidence,
                "percent": round(100 * (sg.confidence or 0)), "state": sg.state, "source": sg.source,
                "chunk_id": sg.chunk_id, "crosswalk": sg.crosswalk_path, "relationship": sg.relationship,
                "llm": {"verdict": sg.llm_verdict, "rationale": sg.llm_rationale} if sg.llm_verdict else None,
                "decision": d.decision.value if d else None,
                "reason_code": d.reason_code.value if d and d.reason_code else None,
                "history": history.get(sg.id, [])})
        passages = [{"id": c.id, "idx": c.idx, "text": c.text, "page": c.page, "line_start": c.line_start,
                     "line_end": c.line_end, "record": c.record_start, "suggestions": by_chunk.get(c.id, [])}
                    for c in chunks]
        frameworks = [(fw, [i for i in items if i["framework"] == fw]) for fw in FRAMEWORK_ORDER]
        return {"doc": {"id": doc.id, "filename": doc.filename, "status": doc.status.value, "kind": doc.kind,
                        "error_code": doc.error_code, "chunk_count": doc.chunk_count},
                "passages": passages, "frameworks": [(fw, its) for fw, its in frameworks if its],
                "reason_codes": [r.value for r in ReasonCode]}


@router.get("/documents/{document_id}")
def review_page(request: Request, document_id: str) -> Response:
    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, READ)
    catalog = request.app.state.catalog
    ctx = _review_context(request.app.state.db, catalog, session.principal.tenant_id, document_id)
    controls = {fw: [(c.id, c.title) for c in catalog.frameworks[fw].requirements()] for fw in FRAMEWORK_ORDER}
    return _page(request, "review.html", session, controls=controls, **ctx)


@router.post("/suggestions/{suggestion_id}/decision")
async def decide(request: Request, suggestion_id: str, decision: str = Form(...), reason_code: str = Form(""),
                 comment: str = Form("", max_length=2000), csrf: str = Form("")) -> Response:
    """Confirm or reject from the review page: the API's decision service, then back to the page (303)."""
    from review.decisions import decide as decide_service

    session = _session(request)
    check_csrf(session, csrf or request.headers.get(CSRF_HEADER))
    _require(session, REVIEW)
    rt = request.app.state.runtime
    out = await run_in_threadpool(lambda: decide_service(
        db=rt.db, principal=session.principal, suggestion_id=suggestion_id, decision=decision,
        reason_code=reason_code or None, comment=comment or None, four_eyes=rt.settings.four_eyes))
    if request.headers.get(CSRF_HEADER):   # the page's script: answer with the decision, it updates in place
        return security_headers(JSONResponse(out, status_code=201))
    with rt.db.session() as s:
        doc_id = s.get(Suggestion, suggestion_id).document_id
    return security_headers(RedirectResponse(f"/ui/documents/{doc_id}#s-{suggestion_id}", status_code=303))


@router.post("/documents/{document_id}/mappings")
async def add_mapping(request: Request, document_id: str, body: MappingIn) -> Response:
    """A mapping the classifier missed, from text the reviewer selected on the review page (JSON from ui.js)."""
    from review.decisions import add_mapping as add_mapping_service

    session = _session(request)
    check_csrf(session, request.headers.get(CSRF_HEADER))
    _require(session, REVIEW)
    rt = request.app.state.runtime
    out = await run_in_threadpool(lambda: add_mapping_service(
        db=rt.db, catalog=request.app.state.catalog, principal=session.principal, document_id=document_id,
        framework=body.framework, control_id=body.control_id.strip(), quote=body.quote, char_start=body.char_start,
        char_end=body.char_end, comment=body.comment))
    return security_headers(JSONResponse(out, status_code=201))


@router.get("/queue")
def queue_page(request: Request, framework: str | None = None, band: str | None = None, page: int = 1) -> Response:
    """The review queue, 50 a page: coverage gaps first, then the most uncertain; filter by framework and
    confidence band (within the page)."""
    from review.queue import review_queue

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, REVIEW)
    page = max(page, 1)
    q = review_queue(db=request.app.state.db, catalog=request.app.state.catalog,
                     tenant_id=session.principal.tenant_id, framework=framework or None, limit=50,
                     offset=(page - 1) * 50)
    bands = {"low": (0.0, 0.4), "mid": (0.4, 0.7), "high": (0.7, 1.01)}
    items = [i for i in q["items"] if band not in bands or bands[band][0] <= i["confidence"] < bands[band][1]]
    return _page(request, "queue.html", session, queue=q, items=items, framework=framework or "", band=band or "",
                 frameworks=FRAMEWORK_ORDER, page=page, more=len(q["items"]) == 50)


@router.get("/coverage")
def coverage_page(request: Request, framework: str = "ISO-IEC-42001-2023", period_start: str | None = None,
                  period_end: str | None = None) -> Response:
    """Per framework, every control coloured by its evidence; a control opens its quotes and crosswalk neighbours."""
    from api.routes.review import _date
    from review.coverage import coverage

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, READ)

    cov = coverage(db=request.app.state.db, catalog=request.app.state.catalog,
                   tenant_id=session.principal.tenant_id, framework=framework,
                   period_start=_date(period_start, "period_start"),
                   period_end=_date(period_end, "period_end"))
    catalog = request.app.state.catalog
    neighbours = {it["control_id"]: [(p[-1].to_framework, p[-1].to_id) for p in
                                     catalog.neighbours(framework, it["control_id"])][:8] for it in cov["items"]}
    return _page(request, "coverage.html", session, cov=cov, framework=framework, frameworks=FRAMEWORK_ORDER,
                 neighbours=neighbours, period_start=period_start or "", period_end=period_end or "")


@router.get("/audit")
def audit_page(request: Request) -> Response:
    """Ledger verification and chain head, and the exports as downloads (auditors and admins)."""
    from review import exports, ledger

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, EXPORT)
    db, tenant = request.app.state.db, session.principal.tenant_id
    return _page(request, "audit.html", session, verification=ledger.verify(db, tenant).public(),
                 head=exports.ledger_head(db, tenant))


@router.get("/exports/{name}")
def export_download(request: Request, name: str) -> Response:
    """`mappings.csv`, `mappings.json` or `oscal.json` as a download, built by the API's export services."""
    import json

    from review import exports
    from review.coverage import confirmed_mappings

    session = _session(request)
    _require(session, EXPORT)
    db, tenant, catalog = request.app.state.db, session.principal.tenant_id, request.app.state.catalog
    rows = confirmed_mappings(db=db, catalog=catalog, tenant_id=tenant)
    if name == "mappings.csv":
        body, media = exports.to_csv(rows), "text/csv"
    elif name == "mappings.json":
        body, media = json.dumps(exports.to_json(rows, db=db, tenant_id=tenant, catalog=catalog), indent=1), \
            "application/json"
    elif name == "oscal.json":
        body, media = json.dumps(exports.to_oscal(rows, db=db, tenant_id=tenant, catalog=catalog), indent=1), \
            "application/json"
    else:
        raise ClausewiseError(ErrorCode.validation_error, "exports are mappings.csv, mappings.json, oscal.json")
    return security_headers(Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="clausewise-{name}"'}))
