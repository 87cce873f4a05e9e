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


def _columns(url, table):
    eng = make_engine(url)
    try:
        return {c["name"] for c in inspect(eng).get_columns(table)}
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
    assert current_revision(url) == "0011"
    assert TABLES <= _tables(url)
    eng = make_engine(url)
    with eng.connect() as conn:
        assert conn.execute(text("select slug from tenants where id = :i"), {"i": DEFAULT_TENANT_ID}).scalar() \
            == "default"
    eng.dispose()
    assert _model_diff(url) == [], "models and migrations disagree"
    downgrade(url, "0010")
    assert "published_at" not in _columns(url, "jobs") and "lease_owner" in _columns(url, "jobs")
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


def test_jobs_from_before_the_outbox_count_as_published_but_a_never_leased_queued_one(tmp_path):
    """0011 backfills `published_at`: a queued job no worker ever leased may never have left the API that
    accepted it, so it is left for the dispatcher; every other job counts as published."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    upgrade(url, "0010")
    eng = make_engine(url)
    with eng.begin() as conn:
        for i, (state, lease) in enumerate([("queued", None), ("queued", "2026-12-07 00:00:00"),
                                            ("processing", "2026-12-07 00:00:00"), ("indexed", None)]):
            conn.execute(text("insert into documents (id, tenant_id, sha256, size_bytes, filename, detected_type, "
                              "storage_key, status, chunk_count, meta, created_at, updated_at) values (:i, :t, :i, 1, "
                              "'f', 'text/plain', 'k', 'queued', 0, '{}', '2026-12-07', '2026-12-07')"),
                         {"i": f"d{i}", "t": DEFAULT_TENANT_ID})
            conn.execute(text("insert into jobs (id, tenant_id, document_id, state, percent, attempts, timings, "
                              "lease_expires_at, created_at) values (:j, :t, :d, :s, 0, 0, '{}', :l, '2026-12-07')"),
                         {"j": f"j{i}", "t": DEFAULT_TENANT_ID, "d": f"d{i}", "s": state, "l": lease})
    eng.dispose()
    upgrade(url)
    eng = make_engine(url)
    with eng.connect() as conn:
        unpublished = conn.execute(text("select id from jobs where published_at is null")).scalars().all()
    eng.dispose()
    assert unpublished == ["j0"]
