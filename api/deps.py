"""Request dependencies as Annotated aliases, so handlers read as plain signatures.

Authentication is on by default: the /v1 router (all but health and readiness) depends on `get_principal`, and
`create_app` refuses to start if any authenticated route lacks an `Allow` role policy.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from catalog import Catalog
from core.auth import Principal, authenticate, cached_principal
from core.errors import ClausewiseError, ErrorCode
from core.models import Role
from core.runtime import Runtime
from core.settings import Settings


# Dependencies that only read app state are `async def`: FastAPI runs a plain `def` dependency in its thread pool,
# one hop per dependency per request, which under load cost more than the work itself.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return request.headers.get("x-api-key") or None


async def get_principal(request: Request) -> Principal:
    """401 unless the request carries a valid, unrevoked key. Cached per request by FastAPI; a key seen in the
    last few seconds is not looked up again (core.auth.KEY_CACHE_TTL_S), else the lookup runs in the thread pool."""
    db, key = request.app.state.db, presented_key(request)
    principal = cached_principal(db, key) or await run_in_threadpool(authenticate, db, key)
    request.state.principal = principal
    return principal


class Allow:
    """A route's role policy: 403 for an authenticated caller whose role is not listed."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in self.roles:
            raise ClausewiseError(ErrorCode.forbidden, f"role {principal.role.value!r} may not do this",
                                  allowed_roles=sorted(r.value for r in self.roles))
        return principal


R = Role
READ = Allow(R.uploader, R.reviewer, R.auditor, R.admin)
UPLOAD = Allow(R.uploader, R.admin)
CLASSIFY = Allow(R.uploader, R.reviewer, R.admin)
REVIEW = Allow(R.reviewer, R.admin)
EXPORT = Allow(R.auditor, R.admin)
ADMIN = Allow(R.admin)


async def get_tenant(principal: Annotated[Principal, Depends(get_principal)]) -> str:
    """The caller's tenant, from its key; no request parameter can name another."""
    return principal.tenant_id


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TenantDep = Annotated[str, Depends(get_tenant)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
