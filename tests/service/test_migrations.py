"""Migrations upgrade and downgrade on SQLite and PostgreSQL, and match the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import review.models  # noqa: F401 - registers the review tables on the shared metadata
from core.db import current_revision, downgrade, make_engine, upgrade
from core.models import DEFAULT_TENANT_ID, Base

TABLES = {"tenants", "documents", "jobs", "chunks", "suggestions", "eval_runs", "api_keys", "decisions", "edge_reviews",
          "ui_sessions", "governance_events", "nhi_sightings"}


def _tables(url):
    eng = make_engine(url)
    try:
        return set(inspect(eng).get_table_names()) - {"alembic_version"}
    finally:
        eng.dispose()


def _model_diff(url):
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        eng.dispose()


def _roundtrip(url):
    upgrade(url)
    assert current_revision(url) == "0010"
    assert TABLES <= _tables(url)
    eng = make_engine(url)
    with eng.connect() as conn:
        assert conn.execute(text("select slug from tenants where id = :i"), {"i": DEFAULT_TENANT_ID}).scalar() \
            == "default"
    eng.dispose()
    assert _model_diff(url) == [], "models and migrations disagree"
    downgrade(url, "0009")
    assert "nhi_sightings" not in _tables(url) and "governance_events" in _tables(url)
    downgrade(url, "0008")
    assert "governance_events" not in _tables(url)
    downgrade(url, "0005")
    assert "edge_reviews" not in _tables(url)
    downgrade(url, "0004")
    assert {"decisions", "api_keys"}.isdisjoint(_tables(url))
    downgrade(url, "0003")
    assert "eval_runs" not in _tables(url)
    downgrade(url, "0002")
    assert "suggestions" not in _tables(url)
    downgrade(url, "0001")
    assert _tables(url) == {"tenants"}
    downgrade(url, "base")
    assert _tables(url) == set() and current_revision(url) is None
    upgrade(url)
    return _tables(url)


def test_migrations_roundtrip_on_sqlite(tmp_path):
    assert TABLES <= _roundtrip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migrations_roundtrip_on_postgresql(pg_url):
    assert TABLES <= _roundtrip(pg_url)
