"""Shared fixtures. Tiers: unit (no I/O), real services (SQLite, PostgreSQL, Redis, Chroma), whole app over HTTP."""

from __future__ import annotations

import os
import socket

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PG_URL = os.environ.get("CLAUSEWISE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CLAUSEWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@pytest.fixture
def settings(tmp_path):
    from core.settings import Settings

    return Settings(env="test", data_dir=tmp_path / "data")


@pytest.fixture
def migrated_settings(settings):
    from core.db import upgrade

    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    return settings


@pytest.fixture
def client(migrated_settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(migrated_settings)) as c:
        yield c


@pytest.fixture
def pg_url():
    """A clean PostgreSQL database (the machine's `test` database, emptied before and after)."""
    if not _port_open("127.0.0.1", 5432):
        pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432; it is a required test service")
    from sqlalchemy import text

    from core.db import make_engine

    def wipe():
        eng = make_engine(PG_URL)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()

    wipe()
    yield PG_URL
    wipe()
