"""docker-compose.yml (no Docker engine here): parsed, and every service it names is one the tests run for real."""

from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_names_the_scale_path_services_with_health_checks_and_volumes():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "chroma", "api", "worker"}
    for name in ("postgres", "redis", "chroma", "api"):
        assert services[name]["healthcheck"]["test"], name
    assert set(COMPOSE["volumes"]) >= {"pgdata", "chromadata", "originals"}
    # API and workers share the originals volume: a worker reads what the API stored
    assert services["api"]["volumes"] == services["worker"]["volumes"] == ["originals:/data"]
    assert "container_name" not in services["worker"] and services["worker"]["deploy"]["replicas"] >= 2


def test_compose_settings_point_at_the_engines_the_scale_test_runs():
    from core.settings import Settings

    env = COMPOSE["services"]["api"]["environment"]
    assert env == COMPOSE["services"]["worker"]["environment"]
    assert env["CLAUSEWISE_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/" in env[
        "CLAUSEWISE_DATABASE_URL"]
    assert env["CLAUSEWISE_BROKER_URL"].startswith("redis://redis:6379")
    assert env["CLAUSEWISE_CHROMA_URL"] == "http://chroma:8000"
    # the production settings object accepts this configuration once a real secret is supplied
    s = Settings(env="production", secret_key="x" * 40, data_dir=Path("/tmp/cw-compose"),
                 database_url=env["CLAUSEWISE_DATABASE_URL"].replace("${POSTGRES_PASSWORD:-clausewise}", "pw"),
                 broker_url=env["CLAUSEWISE_BROKER_URL"], chroma_url=env["CLAUSEWISE_CHROMA_URL"])
    assert s.resolved_chroma_url == "http://chroma:8000"
    scale = (ROOT / "tests" / "scale" / "test_scale_path.py").read_text()
    # each engine the file names is run for real by the scale-path test: PostgreSQL, Redis, `chroma run` (the
    # conftest fixture it uses), a worker
    for needle in ("pg_url", "REDIS_URL", "chroma_server", "start_worker", "create_app"):
        assert needle in scale
    assert '"run", "--path"' in (ROOT / "tests" / "conftest.py").read_text()


def test_dockerfile_installs_cpu_torch_and_the_package():
    text = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in text and "download.pytorch.org/whl/cpu" in text
    assert "libmagic1" in text and "pip install --no-cache-dir ." in text
