"""Request dependencies as Annotated aliases, so handlers read as plain signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from catalog import Catalog
from core.runtime import Runtime
from core.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def get_runtime(request: Request):
    return request.app.state.runtime


def get_tenant(request: Request) -> str:
    """The caller's tenant. Until API keys exist every caller works in the default workspace."""
    from core.models import DEFAULT_TENANT_ID

    return DEFAULT_TENANT_ID


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TenantDep = Annotated[str, Depends(get_tenant)]
