"""The unit tier: logic only. No embedding model, no database server, no broker, no vector store process: a test
here that asks for one fails at once instead of quietly becoming slow."""

from __future__ import annotations

import pytest

SERVICE_FIXTURES = {"runtime", "client", "eager_client", "eager_settings", "pg_url", "chroma_server", "served"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        used = SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))
        if used:
            item.add_marker(pytest.mark.xfail(reason=f"unit test uses service fixtures {sorted(used)}",
                                              strict=True, run=False))


@pytest.fixture(autouse=True)
def _no_model(monkeypatch):
    """Loading the embedding model is the mark of a service test."""
    import core.embedder

    def refuse(*_a, **_k):
        raise AssertionError("a unit test loaded the embedding model; use tests/fakes.FakeEmbedder or move it to "
                             "tests/service")

    monkeypatch.setattr(core.embedder, "get_embedder", refuse)
