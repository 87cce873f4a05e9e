"""Settings: prefix, embedded defaults under the data dir, and production refusing default secrets."""

import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_embedded_defaults_live_in_the_data_dir(tmp_path):
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path}/clausewise.db"
    assert s.resolved_broker_url == f"sqla+sqlite:///{tmp_path}/broker.db"
    assert s.resolved_chroma_url == str(tmp_path / "chroma")
    assert s.originals_dir == tmp_path / "originals"


def test_environment_prefix_configures_urls(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUSEWISE_DATABASE_URL", "postgresql+psycopg://u:pw@db:5432/cw")
    monkeypatch.setenv("CLAUSEWISE_BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("CLAUSEWISE_CHROMA_URL", "http://chroma:8000")
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url.startswith("postgresql")
    assert s.resolved_broker_url == "redis://redis:6379/0"
    assert s.resolved_chroma_url == "http://chroma:8000"
    assert "pw" not in s.public_summary()["database"]


def test_production_refuses_the_default_secret(monkeypatch):
    monkeypatch.setenv("CLAUSEWISE_ENV", "production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings()
    monkeypatch.setenv("CLAUSEWISE_SECRET_KEY", "x" * 40)
    assert Settings().env == "production"


def test_production_refuses_a_short_secret():
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", secret_key="short-but-not-default")
