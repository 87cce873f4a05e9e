"""Web UI sessions: an API key exchanged for a random session token; the server keeps only the token's SHA-256.

A session stands for its key: revoking the key ends every session made with it (checked on each use), as do
idle expiry, absolute expiry and logout. Each session carries its own CSRF token, which every state-changing
request of the UI must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from core.auth import Principal, authenticate
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import ApiKey, Role, UiSession, as_utc, utcnow


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(db: Database, api_key: str) -> tuple[str, Session]:
    """Check the key (401 if unknown or revoked) and open a session; returns the token for the cookie."""
    principal = authenticate(db, api_key)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as s:
        s.add(UiSession(id_hash=_hash(token), key_id=principal.key_id, csrf_token=csrf, created_at=now,
                        last_seen_at=now))
    return token, Session(principal, csrf)


def session_for(db: Database, token: str | None, *, idle_s: int, max_s: int) -> Session:
    """The live session behind a cookie token, its last use moved to now; 401 when there is none."""
    if not token:
        raise ClausewiseError(ErrorCode.unauthenticated, "sign in first")
    now = utcnow()
    with db.session() as s:
        row = s.get(UiSession, _hash(token))
        key = s.get(ApiKey, row.key_id) if row is not None else None
        if row is None or key is None or row.ended_at is not None:
            raise ClausewiseError(ErrorCode.unauthenticated, "the session has ended; sign in again")
        created, seen = as_utc(row.created_at), as_utc(row.last_seen_at)
        if key.revoked_at is not None or now - seen > timedelta(seconds=idle_s) or \
                now - created > timedelta(seconds=max_s):
            row.ended_at = now
            raise ClausewiseError(ErrorCode.unauthenticated, "the session has expired; sign in again")
        row.last_seen_at = now
        principal = Principal(key_id=key.id, name=key.name, role=Role(key.role), tenant_id=key.tenant_id)
        return Session(principal, row.csrf_token)


def end_session(db: Database, token: str | None) -> None:
    if not token:
        return
    with db.session() as s:
        row = s.get(UiSession, _hash(token))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def check_csrf(session: Session, presented: str | None) -> None:
    """403 unless the request echoes the session's CSRF token (constant-time comparison)."""
    if not presented or not hmac.compare_digest(presented.encode(), session.csrf_token.encode()):
        raise ClausewiseError(ErrorCode.forbidden, "missing or wrong CSRF token; reload the page")
