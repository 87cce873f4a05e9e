"""The API's outbox: an upload answers once its job row is committed; one thread publishes to the broker after that,
drains on shutdown, and a publish that cannot go out leaves the job for the recovery sweep."""

from __future__ import annotations

import sqlite3
import time

from conftest import free_port


def test_ingest_returns_at_once_and_the_outbox_publishes_then_drains_on_close(migrated_settings):
    from core.runtime import Runtime
    from worker.dispatch import Dispatch

    rt = Runtime(migrated_settings)
    d = Dispatch(migrated_settings, rt)
    t = time.perf_counter()
    for i in range(20):
        d.ingest(f"doc-{i}", f"job-{i}")
    assert time.perf_counter() - t < 0.5   # no broker round trip in the caller
    assert d.flush(timeout_s=60) and d.pending_publishes() == 0
    with sqlite3.connect(migrated_settings.data_dir / "broker.db") as con:
        assert con.execute("SELECT count(*) FROM kombu_message").fetchone()[0] == 20
    for i in range(20, 30):   # accepted just before a SIGTERM: close() publishes them before it returns
        d.ingest(f"doc-{i}", f"job-{i}")
    d.close()
    with sqlite3.connect(migrated_settings.data_dir / "broker.db") as con:
        assert con.execute("SELECT count(*) FROM kombu_message").fetchone()[0] == 30
    rt.close()


def test_a_broker_that_is_down_does_not_block_the_caller(migrated_settings, caplog):
    from core.runtime import Runtime
    from worker.dispatch import Dispatch

    down = migrated_settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    rt = Runtime(down)
    d = Dispatch(down, rt)
    t = time.perf_counter()
    d.ingest("doc-x", "job-x")
    assert time.perf_counter() - t < 0.5
    assert d.flush(timeout_s=120)   # five attempts with backoff, then it gives up (the sweep delivers the job)
    assert any("could not publish job job-x" in r.getMessage() for r in caplog.records)
    d.close()
    rt.close()
