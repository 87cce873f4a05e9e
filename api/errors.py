"""The one error handler: every failure leaves as {"error_code": ..., "detail": ...}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import ClausewiseError, ErrorCode

log = logging.getLogger("clausewise.api")

_HTTP_CODES = {401: ErrorCode.unauthenticated, 403: ErrorCode.forbidden, 404: ErrorCode.not_found,
               409: ErrorCode.conflict, 413: ErrorCode.file_too_large, 415: ErrorCode.unsupported_media_type}


def _browser_page(request: Request) -> bool:
    """A web UI page a person navigated to (not a script's fetch or an htmx swap): errors answer as a page."""
    return (request.url.path.startswith("/ui/") and request.method == "GET" and "hx-request" not in request.headers
            and "text/html" in request.headers.get("accept", ""))


def _error_page(request: Request, code: ErrorCode, detail: str, status: int):
    from api.ui.routes import error_page

    return error_page(request, code.value, detail, status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClausewiseError)
    async def _business(request: Request, exc: ClausewiseError) -> JSONResponse:
        if _browser_page(request):
            return _error_page(request, exc.code, exc.detail, exc.status)
        headers = {"WWW-Authenticate": 'Bearer realm="clausewise"'} if exc.code is ErrorCode.unauthenticated else None
        if exc.code is ErrorCode.rate_limited:
            headers = {"Retry-After": str(exc.extra.get("retry_after_s", 1))}
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if _browser_page(request):
            return _error_page(request, ErrorCode.validation_error, "a value in the address is not valid", 422)
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"error_code": ErrorCode.validation_error.value, "detail": "request is invalid",
                             "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.internal_error if exc.status_code >= 500
                               else ErrorCode.validation_error)
        if _browser_page(request):
            return _error_page(request, code, str(exc.detail), exc.status_code)
        return JSONResponse({"error_code": code.value, "detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"error_code": ErrorCode.internal_error.value, "detail": "internal error"},
                            status_code=500)
