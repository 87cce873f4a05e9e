"""Web UI pages: sign in with an API key, documents and upload, the review page with highlighted passages.

Same service functions as the API (no HTTP calls to ourselves), same role policies: a page shows only what the
session's role may do and every POST is checked again (403), with the session's CSRF token. Documents are hostile:
Jinja2 escapes every value, the Content-Security-Policy allows no inline script and nothing from elsewhere, and a
document's text is only ever rendered as text.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from api.deps import ADMIN, EXPORT, READ, REVIEW, UPLOAD, Allow
from api.routes.review import MappingIn
from api.ui.words import plain
from core.errors import ClausewiseError, ErrorCode
from core.models import Chunk, Document, Suggestion
from core.scoping import tenant_document
from core.sessions import Session, check_csrf, end_session, session_for, start_session
from review.decisions import LOW_CONFIDENCE
from review.models import Decision, ReasonCode

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
COOKIE = "cw_session"
LOGIN_COOKIE = "cw_login"   # double-submit token of the sign-in form (login CSRF)
CSRF_HEADER = "x-csrf-token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MAX_PAGE = 100_000          # page numbers past this answer 422 (an offset must fit the database's integers)
MAX_POSITION = 5_000_000
FRAMEWORK_ORDER = ("ISO-IEC-42001-2023", "NIST-CSF-2.0", "OWASP-NHI-TOP10-2025")

router = APIRouter(prefix="/ui", include_in_schema=False)


def security_headers(response: Response) -> Response:
    """The UI's own CSP and no caching; the headers every response carries (nosniff, frame, referrer) are added
    by the app's middleware (api.limits.add_security_headers)."""
    response.headers["Content-Security-Policy"] = CSP
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
           "review": session is not None and _may(session, REVIEW),
           "export": session is not None and _may(session, EXPORT),
           "admin": session is not None and _may(session, ADMIN)}
    ctx = {"session": session, "role": session.principal.role.value if session else None,
           "csrf": session.csrf_token if session else "", "can": can, **context}
    return security_headers(templates.TemplateResponse(request, name, ctx))


def _to_login(request: Request) -> RedirectResponse:
    return security_headers(RedirectResponse(f"/ui/login?next={quote(request.url.path)}", status_code=303))


def error_page(request: Request, code: str, detail: str, status: int) -> HTMLResponse:
    """A failed page navigation in plain words, with the stable code kept visible."""
    try:
        session = _session(request)
    except ClausewiseError:
        session = None
    resp = _page(request, "error.html", session, code=code, plain=plain(code), detail=detail)
    resp.status_code = status
    return resp


@router.get("/login")
def login_form(request: Request, next: str = "/ui/", error: str | None = None) -> HTMLResponse:
    return _login_page(request, next, error)


def _login_page(request: Request, next: str, error: str | None, status_code: int = 200) -> HTMLResponse:
    """The sign-in form with a fresh double-submit token: the same random value in a SameSite=Strict cookie and in
    the form, so another site cannot sign a reviewer's browser in under its own key (login CSRF)."""
    token = secrets.token_urlsafe(24)
    resp = _page(request, "login.html", None, next=next if next.startswith("/ui/") else "/ui/", error=error,
                 login_csrf=token)
    resp.status_code = status_code
    settings = request.app.state.settings
    resp.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=settings.env != "development",
                    max_age=3600, path="/ui/login")
    return resp


@router.post("/login")
def login(request: Request, api_key: str = Form(..., max_length=200), next: str = Form("/ui/"),
          login_csrf: str = Form("", max_length=100)) -> Response:
    """Exchange an API key for a session cookie (HttpOnly, SameSite=Strict, Secure outside development)."""
    import hmac

    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not hmac.compare_digest(expected.encode(), login_csrf.encode()):
        return _login_page(request, next, "The sign-in form expired or did not come from this site; try again.",
                           status_code=403)
    try:
        token, _ = start_session(request.app.state.db, api_key.strip())
    except ClausewiseError:
        return _login_page(request, next, "That key is unknown or revoked.", status_code=401)
    settings = request.app.state.settings
    resp = RedirectResponse(next if next.startswith("/ui/") else "/ui/", status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=settings.env != "development",
                    max_age=settings.ui_session_max_s, path="/ui")
    resp.delete_cookie(LOGIN_COOKIE, path="/ui/login")
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
def documents_page(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE)) -> Response:
    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    from ingest.service import list_documents

    docs = list_documents(db=request.app.state.db, tenant_id=session.principal.tenant_id, page=max(page, 1),
                          page_size=50)
    for d in docs["items"]:
        d["error_plain"] = plain(d["error_code"]) if d.get("error_code") else None
    return _page(request, "documents.html", session, docs=docs)


@router.get("/documents/status")
def documents_status(request: Request, ids: str = "") -> JSONResponse:
    """Status of the listed documents, for live upload progress."""
    session = _session(request)
    wanted = [i for i in ids.split(",") if i][:100]
    with request.app.state.db.session() as s:
        rows = s.scalars(select(Document).where(Document.tenant_id == session.principal.tenant_id,
                                                Document.id.in_(wanted))).all() if wanted else []
        out = {d.id: {"status": d.status.value, "error_code": d.error_code, "chunk_count": d.chunk_count,
                      "error_plain": plain(d.error_code) if d.error_code else None} for d in rows}
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
                        "error_code": doc.error_code, "chunk_count": doc.chunk_count,
                        "error_plain": plain(doc.error_code) if doc.error_code else None},
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
        reason_code=(reason_code or None) if decision == "reject" else None,   # the form always sends the select
        comment=comment or None, four_eyes=rt.settings.four_eyes))
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


QUEUE_PAGE = 50


def _queue_filters(framework: str | None, family: str | None, kind: str | None, band: str | None) -> dict:
    return {"framework": framework or None, "family": family or None, "kind": kind or None, "band": band or None}


def _queue_context(request: Request, session: Session, filters: dict, page: int) -> dict:
    from ingest.service import document_kinds
    from review.queue import families, review_queue

    catalog = request.app.state.catalog
    q = review_queue(db=request.app.state.db, catalog=catalog, tenant_id=session.principal.tenant_id,
                     limit=QUEUE_PAGE, offset=(page - 1) * QUEUE_PAGE, **filters)
    return {"queue": q, "items": q["items"], "filters": {k: v or "" for k, v in filters.items()},
            "query": urlencode({k: v for k, v in filters.items() if v}), "frameworks": FRAMEWORK_ORDER,
            "families": [(fw, families(catalog, fw)) for fw in FRAMEWORK_ORDER[:2]],
            "kinds": document_kinds(db=request.app.state.db, tenant_id=session.principal.tenant_id),
            "page": page, "more": len(q["items"]) == QUEUE_PAGE, "low_confidence": LOW_CONFIDENCE}


@router.get("/queue")
def queue_page(request: Request, framework: str | None = None, family: str | None = None, kind: str | None = None,
               band: str | None = None, page: int = Query(1, ge=1, le=MAX_PAGE)) -> Response:
    """The review queue, 50 a page: coverage gaps first, then the most uncertain; filters by framework, control
    family, document kind and confidence band (in the database, so pages stay whole); bulk confirm; an item opens
    beside the list, and after a decision the next one opens."""
    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, REVIEW)
    ctx = _queue_context(request, session, _queue_filters(framework, family, kind, band), max(page, 1))
    return _page(request, "queue.html", session, **ctx)


def _queue_item(request: Request, session: Session, suggestion_id: str) -> dict:
    from review.decisions import suggestion_detail

    db = request.app.state.db
    item = suggestion_detail(db=db, catalog=request.app.state.catalog, tenant_id=session.principal.tenant_id,
                             suggestion_id=suggestion_id)
    with db.session() as s:
        chunk = s.get(Chunk, item["evidence"]["chunk_id"]) if item["evidence"]["chunk_id"] else None
        doc = s.get(Document, item["document_id"])
        text, filename, kind = (chunk.text if chunk else ""), doc.filename, doc.kind
    quote_text = item["evidence"]["quote"] or ""
    at = text.find(quote_text) if quote_text else -1
    parts = (text[:at], quote_text, text[at + len(quote_text):]) if at >= 0 else ("", text, "")
    return {"item": item, "parts": parts, "filename": filename, "kind": kind,
            "percent": round(100 * (item["confidence"] or 0)), "reason_codes": [r.value for r in ReasonCode]}


@router.get("/queue/items/{suggestion_id}")
def queue_item(request: Request, suggestion_id: str, position: int = Query(0, ge=0, le=MAX_POSITION),
               framework: str | None = None, family: str | None = None, kind: str | None = None,
               band: str | None = None) -> Response:
    """One queue item beside the list (htmx fragment): its passage, confidence, source, confirm / reject."""
    session = _session(request)
    _require(session, REVIEW)
    return _page(request, "_queue_item.html", session, position=position,
                 filters={k: v or "" for k, v in _queue_filters(framework, family, kind, band).items()},
                 **_queue_item(request, session, suggestion_id))


@router.post("/queue/items/{suggestion_id}/decision")
async def queue_decide(request: Request, suggestion_id: str, decision: str = Form(...), reason_code: str = Form(""),
                       comment: str = Form("", max_length=2000), position: int = Form(0, ge=0, le=MAX_POSITION),
                       framework: str = Form(""),
                       family: str = Form(""), kind: str = Form(""), band: str = Form(""),
                       csrf: str = Form("")) -> Response:
    """Decide the open queue item, then answer with the next item (same position in the refreshed queue) and the
    refreshed list (out of band)."""
    from review.decisions import decide as decide_service

    session = _session(request)
    check_csrf(session, csrf or request.headers.get(CSRF_HEADER))
    _require(session, REVIEW)
    rt = request.app.state.runtime
    await run_in_threadpool(lambda: decide_service(
        db=rt.db, principal=session.principal, suggestion_id=suggestion_id, decision=decision,
        reason_code=(reason_code or None) if decision == "reject" else None,   # the form always sends the select
        comment=comment or None, four_eyes=rt.settings.four_eyes))
    filters = _queue_filters(framework, family, kind, band)
    page = position // QUEUE_PAGE + 1
    ctx = _queue_context(request, session, filters, page)
    if not request.headers.get("hx-request"):
        return security_headers(RedirectResponse(f"/ui/queue?{ctx['query']}", status_code=303))
    items = ctx["items"]
    nxt = items[min(position % QUEUE_PAGE, len(items) - 1)] if items else None
    nxt_ctx = _queue_item(request, session, nxt["suggestion_id"]) if nxt else {}
    done = {"decision": decision, "control_id": None}
    return _page(request, "_queue_after.html", session, **ctx, **nxt_ctx, done=done,
                 position=(page - 1) * QUEUE_PAGE + (items.index(nxt) if nxt else 0))


@router.post("/queue/confirm")
async def queue_bulk_confirm(request: Request) -> Response:
    """Bulk confirm of the selected rows: never a `needs_review` one; a selection holding low-confidence items is
    applied only after the reviewer confirms the warning that names them."""
    from review.decisions import bulk_confirm

    session = _session(request)
    form = await request.form()
    check_csrf(session, form.get("csrf") or request.headers.get(CSRF_HEADER))
    _require(session, REVIEW)
    ids = [str(v) for v in form.getlist("ids")][:500]
    rt = request.app.state.runtime
    out = await run_in_threadpool(lambda: bulk_confirm(
        db=rt.db, principal=session.principal, suggestion_ids=ids, four_eyes=rt.settings.four_eyes,
        acknowledge_low=form.get("acknowledge_low") == "1"))
    filters = _queue_filters(*(str(form.get(k) or "") for k in ("framework", "family", "kind", "band")))
    ctx = _queue_context(request, session, filters, 1)
    return _page(request, "_bulk_result.html", session, result=out, ids=ids, **ctx)


@router.get("/queue/next")
def queue_next(request: Request, after: str = "") -> Response:
    """The next document in the queue after this one (the `n` key on the review page): its page, at the item."""
    from review.queue import review_queue

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, REVIEW)
    q = review_queue(db=request.app.state.db, catalog=request.app.state.catalog,
                     tenant_id=session.principal.tenant_id, limit=200)
    nxt = next((i for i in q["items"] if i["document_id"] != after), None)
    target = f"/ui/documents/{nxt['document_id']}#s-{nxt['suggestion_id']}" if nxt else "/ui/queue"
    return security_headers(RedirectResponse(target, status_code=303))


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


@router.get("/nhi")
def nhi_page(request: Request, kind: str | None = None, risk: str | None = None, page: int = 1) -> Response:
    """The machine identities read from the evidence, beside coverage: kind, last seen, credential events and
    the NHI Top 10 risks their records show; an identity opens its evidence trail."""
    from ingest.nhi import inventory

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, READ)
    settings = request.app.state.settings
    page = min(max(page, 1), MAX_PAGE)
    data = inventory.inventory(request.app.state.db, session.principal.tenant_id, kind=kind or None,
                               risk=risk or None, page=page, page_size=100,
                               rotation_days=settings.nhi_rotation_days, stale_days=settings.nhi_stale_days)
    return _page(request, "nhi.html", session, data=data, kind=kind or "", risk=risk or "", page=page)


@router.get("/nhi/{identity_id}")
def nhi_identity_page(request: Request, identity_id: str) -> Response:
    from ingest.nhi import inventory

    try:
        session = _session(request)
    except ClausewiseError:
        return _to_login(request)
    _require(session, READ)
    item = inventory.identity(request.app.state.db, session.principal.tenant_id, identity_id,
                              rotation_days=request.app.state.settings.nhi_rotation_days)
    return _page(request, "nhi_identity.html", session, it=item)


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
    elif name in ("soa.xlsx", "soa.csv", "soa.json"):
        from review import soa
        body, media, _ = soa.export(db=db, catalog=catalog, tenant_id=tenant, fmt=name.split(".")[1])
    else:
        raise ClausewiseError(ErrorCode.validation_error,
                              "exports are mappings.csv, mappings.json, oscal.json, soa.xlsx, soa.csv, soa.json")
    return security_headers(Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="clausewise-{name}"'}))
