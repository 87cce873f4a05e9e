"""Liveness."""

from fastapi import APIRouter

from api.deps import CatalogDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(settings: SettingsDep, catalog: CatalogDep) -> dict:
    """Report that the process is up, with the catalog version it serves."""
    return {"status": "ok", "version": _version(), "catalog_version": catalog.version, "env": settings.env}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clausewise")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"
