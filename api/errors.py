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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClausewiseError)
    async def _business(_: Request, exc: ClausewiseError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="clausewise"'} if exc.code is ErrorCode.unauthenticated else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"error_code": ErrorCode.validation_error.value, "detail": "request is invalid",
                             "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.internal_error if exc.status_code >= 500
                               else ErrorCode.validation_error)
        return JSONResponse({"error_code": code.value, "detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"error_code": ErrorCode.internal_error.value, "detail": "internal error"},
                            status_code=500)
