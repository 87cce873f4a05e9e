"""Request limits: a cap on every request body but uploads (which stream with their own cap), per-key rate limits
for uploads and classification, and the security headers every response carries."""

from __future__ import annotations

import json
import math
import threading
import time

from core.errors import ClausewiseError, ErrorCode

UPLOAD_PATHS = {"/v1/documents", "/ui/documents"}   # POST bodies streamed to disk by api.upload


class BodyLimit:
    """Pure ASGI middleware: a POST/PUT/PATCH body other than an upload is read up to `limit` bytes, whatever the
    transfer encoding; past it the answer is 413 `body_too_large` and the app never sees the request."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH")
                or scope["path"] in UPLOAD_PATHS):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            total += len(body)
            if total > self.limit:
                return await self._refuse(send)
            chunks.append(body)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"error_code": ErrorCode.body_too_large.value,
                           "detail": f"request body exceeds {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *SECURITY_HEADERS_RAW]})
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per key and kind, refilled continuously: `per_minute` requests a minute with bursts of a
    sixth of that (at least 5). Per API process: with N API processes a key may make N times as many."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, kind: str, per_minute: int) -> None:
        if per_minute <= 0:
            return
        rate, burst = per_minute / 60.0, max(5.0, per_minute / 6.0)
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get((key, kind), (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens < 1.0:
                wait = math.ceil((1.0 - tokens) / rate)
                self._buckets[(key, kind)] = (tokens, now)
                raise ClausewiseError(ErrorCode.rate_limited, f"more than {per_minute} {kind} requests a minute "
                                      f"with this key; retry in {wait} s", retry_after_s=wait)
            self._buckets[(key, kind)] = (tokens - 1.0, now)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
SECURITY_HEADERS_RAW = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


def add_security_headers(path: str, headers) -> None:
    """Headers every response carries; the UI sets its own CSP (scripts and styles from 'self'), the interactive
    API docs are left without one (they load their assets from a CDN), everything else may load nothing."""
    for k, v in SECURITY_HEADERS.items():
        headers.setdefault(k, v)
    if path not in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        headers.setdefault("Content-Security-Policy", API_CSP)
