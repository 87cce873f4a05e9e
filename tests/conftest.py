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


MODEL_FIXTURES = {"runtime", "eager_client", "eager_settings", "served"}
# the unit tier (tests/unit) is logic only: no embedding model, no database server, broker or vector store process
SERVICE_FIXTURES = MODEL_FIXTURES | {"client", "pg_url", "chroma_server"}
UNIT_DIR = __import__("pathlib").Path(__file__).resolve().parent / "unit"


def _is_unit(item) -> bool:
    return UNIT_DIR in __import__("pathlib").Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config, items):
    """Tests that reach the embedding model through a fixture say so (`-m "not needs_model"` leaves them out)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if MODEL_FIXTURES & used:
            item.add_marker(pytest.mark.needs_model)


@pytest.fixture(autouse=True)
def _unit_tests_load_no_model(request, monkeypatch):
    """In tests/unit, loading the embedding model or asking for a service fixture is an error (use tests/fakes.py):
    such a test fails at once instead of quietly becoming a slow one."""
    if not _is_unit(request.node):
        return
    used = SERVICE_FIXTURES & set(request.fixturenames)
    if used:
        pytest.fail(f"a unit test uses service fixtures {sorted(used)}; move it to tests/service or tests/api")
    import core.embedder

    def refuse(*_a, **_k):
        raise AssertionError("a unit test loaded the embedding model; use tests/fakes.FakeEmbedder or move it to "
                             "tests/service")

    monkeypatch.setattr(core.embedder, "get_embedder", refuse)


@pytest.fixture
def settings(tmp_path):
    from core.settings import Settings

    return Settings(env="test", data_dir=tmp_path / "data")


@pytest.fixture
def db(tmp_path):
    """A migrated SQLite database of its own (tests that build rows by hand; files may override it)."""
    from core.db import Database, upgrade

    url = f"sqlite:///{tmp_path / 'rows.db'}"
    upgrade(url)
    d = Database(url)
    yield d
    d.dispose()


@pytest.fixture
def migrated_settings(settings):
    from core.db import upgrade

    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    return settings


def make_key(settings, role="admin", tenant="default", name=None) -> str:
    """A real API key in the settings' database (tenant created if new)."""
    from core.auth import create_key
    from core.db import Database

    db = Database.from_settings(settings)
    try:
        return create_key(db, tenant=tenant, role=role, name=name or f"test {role}")[1]
    finally:
        db.dispose()


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client(migrated_settings):
    """The app in-process, with an admin key of the default tenant on every request."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(migrated_settings), headers=bearer(make_key(migrated_settings))) as c:
        yield c


@pytest.fixture
def pg_url():
    """A clean PostgreSQL schema of its own in the machine's `test` database, dropped afterwards.

    Each test gets a fresh schema (selected through the URL's search_path), so two suites sharing the server
    never see or wipe each other's tables.
    """
    if not _port_open("127.0.0.1", 5432):
        pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432; it is a required test service")
    import uuid

    from sqlalchemy import text

    from core.db import make_engine

    schema = f"cw_test_{uuid.uuid4().hex[:12]}"
    eng = make_engine(PG_URL)
    with eng.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with eng.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    eng.dispose()


@pytest.fixture
def runtime(migrated_settings):
    """Real stores on a temp data dir: SQLite, embedded Chroma, originals, the real embedding model."""
    from core.runtime import Runtime
    from ingest.partition import warm_up

    warm_up()
    rt = Runtime(migrated_settings)
    yield rt
    rt.db.dispose()


TESTS = __import__("pathlib").Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = ROOT / "eval" / "datasets" / "files"


def manifest():
    import json

    return [json.loads(line) for line in (FIXTURES / "manifest.jsonl").read_text().splitlines()]


def ingest_file(rt, path, tenant_id=None):
    """Register a file like an upload and run its job in this process; returns the document as the API shows it."""
    from core.models import DEFAULT_TENANT_ID
    from ingest import service
    from ingest.intake import ingest_local_file
    from worker.jobs import run_ingest_job

    tenant_id = tenant_id or DEFAULT_TENANT_ID
    reg = ingest_local_file(path, db=rt.db, blobs=rt.blobs, tenant_id=tenant_id,
                            max_bytes=rt.settings.max_upload_bytes)
    if not reg.duplicate:
        run_ingest_job(rt, reg.document.id, reg.job.id)
    return service.get_document(db=rt.db, tenant_id=tenant_id, document_id=reg.document.id)


from bench.live import LiveServer, free_port  # noqa: E402,F401 - shared with the benchmarks


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server (`chroma run`) on a free loopback port."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("chroma server did not start")
        time.sleep(0.3)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def eager_settings(migrated_settings):
    """Settings whose jobs run in a background thread of the app process (no broker)."""
    return migrated_settings.model_copy(update={"task_always_eager": True})


@pytest.fixture
def eager_client(eager_settings):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ingest.partition import warm_up

    warm_up()
    with TestClient(create_app(eager_settings), headers=bearer(make_key(eager_settings))) as c:
        yield c


def wait_for_document(client, document_id, timeout=120):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        doc = client.get(f"/v1/documents/{document_id}").json()
        timings = (doc.get("job") or {}).get("timings") or {}
        if doc["status"] == "failed" or (doc["status"] == "indexed" and "classify_s" in timings):
            return doc  # an indexed document is classified by the same job: wait for that too
        time.sleep(0.2)
    raise AssertionError(f"document {document_id} still {doc['status']} after {timeout}s")


def start_worker(settings, extra_env=None):
    """A real `clausewise worker` process on the settings' data directory."""
    import subprocess
    import sys

    env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(settings.data_dir), "CLAUSEWISE_ENV": "test",
           **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--loglevel", "WARNING"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc):
    """SIGTERM a process, SIGKILL it if it has not exited within 30 s."""
    import signal
    import subprocess

    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
