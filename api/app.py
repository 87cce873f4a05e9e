"""The application factory."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api.errors import install_error_handlers
from api.routes import catalog as catalog_routes
from api.routes import health
from catalog import load_catalog
from core.db import Database
from core.settings import Settings


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the app around one Settings object; the catalog is loaded and validated before serving."""
    settings = settings or Settings()
    catalog = load_catalog()
    database = db or Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if db is None:
            database.dispose()

    app = FastAPI(title="Clausewise", version="0.1.0", lifespan=lifespan,
                  description="Which ISO/IEC 42001, NIST CSF 2.0 and OWASP NHI controls does this evidence prove?")
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.db = database
    install_error_handlers(app)

    v1 = APIRouter(prefix="/v1")
    v1.include_router(health.router)
    v1.include_router(catalog_routes.router)
    app.include_router(v1)
    return app
