"""Request dependencies as Annotated aliases, so handlers read as plain signatures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from catalog import Catalog
from core.db import Database
from core.runtime import Runtime
from core.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


def get_database(request: Request) -> Database:
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as s:
        yield s


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_runtime(request: Request):
    return request.app.state.runtime


def get_tenant(request: Request) -> str:
    """The caller's tenant. Until API keys exist every caller works in the default workspace."""
    from core.models import DEFAULT_TENANT_ID

    return DEFAULT_TENANT_ID


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TenantDep = Annotated[str, Depends(get_tenant)]
