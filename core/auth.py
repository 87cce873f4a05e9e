"""API keys and tenants: keys are 256-bit random tokens shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select

from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import DEFAULT_TENANT_ID, ApiKey, Role, Tenant, utcnow

KEY_PREFIX = "cw_"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and name, its role and the one tenant it may see."""

    key_id: str
    name: str
    role: Role
    tenant_id: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def ensure_tenant(db: Database, slug: str, name: str | None = None, *, create: bool = True) -> Tenant:
    """The tenant with this slug (or id), created on first use. `default` is the workspace migrations create."""
    slug = slug.strip().lower()
    with db.session() as s:
        t = s.scalar(select(Tenant).where((Tenant.slug == slug) | (Tenant.id == slug)))
        if t is not None:
            return t
        if not create:
            raise ClausewiseError(ErrorCode.tenant_not_found, f"no tenant {slug!r}")
        if not _SLUG.match(slug):
            raise ClausewiseError(ErrorCode.validation_error,
                                  "tenant slug must be 1-63 lowercase letters, digits or '-'", tenant=slug)
        t = Tenant(slug=slug, name=name or slug)
        s.add(t)
    return t


def create_key(db: Database, *, tenant: str, role: str, name: str | None = None,
               created_by: str | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plaintext key, which is never stored and cannot be shown again."""
    try:
        role_ = Role(role)
    except ValueError:
        raise ClausewiseError(ErrorCode.validation_error, f"role must be one of {[r.value for r in Role]}",
                              role=role) from None
    t = ensure_tenant(db, tenant)
    token = secrets.token_urlsafe(32)
    plaintext = f"{KEY_PREFIX}{token}"
    row = ApiKey(tenant_id=t.id, name=(name or f"{role_.value} key")[:200], role=role_.value,
                 prefix=plaintext[:10], key_hash=hash_key(plaintext), created_by=created_by)
    with db.session() as s:
        s.add(row)
    return row, plaintext


KEY_CACHE_TTL_S = 5.0
# key hash -> (principal, monotonic expiry), per Database: a valid key is looked up once per TTL, not per request.
# A key revoked through this process is forgotten at once; one revoked by another process (the CLI) stops
# working here within the TTL.
_KEY_CACHE: dict[tuple[int, str], tuple[Principal, float]] = {}


def cached_principal(db: Database, key: str | None) -> Principal | None:
    if not key:
        return None
    hit = _KEY_CACHE.get((id(db), hash_key(key.strip())))
    return hit[0] if hit and hit[1] > time.monotonic() else None


def authenticate(db: Database, key: str | None) -> Principal:
    """The principal for a presented key; 401 for a missing, unknown or revoked key."""
    if not key:
        raise ClausewiseError(ErrorCode.unauthenticated, "an API key is required (Authorization: Bearer <key> "
                                                         "or X-API-Key)")
    digest = hash_key(key.strip())
    with db.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if row is None or row.revoked_at is not None:
        _KEY_CACHE.pop((id(db), digest), None)
        raise ClausewiseError(ErrorCode.unauthenticated, "the API key is unknown or revoked")
    principal = Principal(key_id=row.id, name=row.name, role=Role(row.role), tenant_id=row.tenant_id)
    if len(_KEY_CACHE) > 10_000:
        _KEY_CACHE.clear()
    _KEY_CACHE[(id(db), digest)] = (principal, time.monotonic() + KEY_CACHE_TTL_S)
    return principal


def forget_key(key_id: str) -> None:
    for k, (p, _) in list(_KEY_CACHE.items()):
        if p.key_id == key_id:
            _KEY_CACHE.pop(k, None)


def key_public(row: ApiKey) -> dict:
    return {"id": row.id, "name": row.name, "role": row.role, "prefix": row.prefix, "tenant_id": row.tenant_id,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}


def list_keys(db: Database, tenant_id: str) -> list[dict]:
    with db.session() as s:
        rows = s.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)).all()
        return [key_public(r) for r in rows]


def revoke_key(db: Database, tenant_id: str, key_id: str) -> dict:
    with db.session() as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.tenant_id != tenant_id:
            raise ClausewiseError(ErrorCode.key_not_found, "no such key in this tenant", key_id=key_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        out = key_public(row)
    forget_key(key_id)
    return out


def has_keys(db: Database) -> bool:
    with db.session() as s:
        return s.scalar(select(ApiKey.id).limit(1)) is not None


__all__ = ["DEFAULT_TENANT_ID", "Principal", "authenticate", "create_key", "ensure_tenant", "has_keys",
           "list_keys", "revoke_key"]
