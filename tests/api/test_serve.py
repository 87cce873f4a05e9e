"""What a user runs: `clausewise serve` on the embedded defaults, as real processes (the API, the Chroma server it
starts on the data directory, the Celery worker on the SQLite broker), driven over HTTP.

Covers issue 13: the API sees what the worker indexes (one live vector store for every process), a new tenant's
first search answers, a worker SIGKILLed mid-job is restarted and its job finishes exactly once (or ends
`worker_crash` after three deaths), readiness names the worker while it is down, and the same bytes of a failed
document start a new attempt.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.needs_model]

LEASE_S = 5
TIME_LIMIT_S = 120


class Served:
    """`clausewise serve` in a process of its own, on a fresh data directory and a free port."""

    def __init__(self, tmp: Path, **env: str) -> None:
        self.data = tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        self.env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(self.data), "CLAUSEWISE_ENV": "test",
                    "CLAUSEWISE_JOB_LEASE_S": str(LEASE_S), "CLAUSEWISE_JOB_TIME_LIMIT_S": str(TIME_LIMIT_S),
                    "CLAUSEWISE_LOG_LEVEL": "INFO", **env}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.wait_ready(timeout=240)
        self.key = (self.data / "admin.key").read_text().strip()
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def ready(self) -> httpx.Response:
        return httpx.get(f"{self.url}/v1/ready", timeout=10)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, f"serve exited:\n{self.tail()}"
            try:
                if self.ready().status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"serve not ready after {timeout}s:\n{self.tail()}")

    def state(self) -> dict:
        return json.loads((self.data / "run" / "serve.json").read_text())

    def child_pid(self, name: str) -> int:
        return self.state()["children"][name]["pid"]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=300)

    def sql(self, query: str, *params) -> list[tuple]:
        with sqlite3.connect(self.data / "clausewise.db") as conn:  # SQLite is made for several processes
            return conn.execute(query, params).fetchall()

    def upload(self, name: str, body: bytes) -> dict:
        r = self.http.post("/v1/documents", files={"file": (name, body)})
        assert r.status_code in (200, 202), r.text
        return r.json()

    def document(self, document_id: str) -> dict:
        return self.http.get(f"/v1/documents/{document_id}").json()

    def wait_document(self, document_id: str, timeout: float, want=("indexed", "failed")) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            doc = self.document(document_id)
            classified = "classify_s" in ((doc.get("job") or {}).get("timings") or {})
            if doc["status"] == "failed" and "failed" in want or doc["status"] == "indexed" and classified:
                return doc
            time.sleep(0.25)
        raise AssertionError(f"document {document_id} still {doc['status']} after {timeout}s:\n{self.tail()}")

    def stop(self) -> None:
        pids = [c["pid"] for c in self.state()["children"].values() if c.get("pid")]
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for pid in pids:  # no child outlives serve
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("serve"))
    yield s
    s.stop()


def long_pdf() -> bytes:
    from eval.corpus import make_pdf

    return make_pdf([" ".join(f"Section {p}.{i}: service account keys are rotated every 90 days, access is "
                              f"reviewed quarterly and model release {p}-{i} needs a signed validation report."
                              for i in range(30)) for p in range(30)])


def wait_stage(served: Served, job_id: str, stage: str, attempts: int, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = served.http.get(f"/v1/jobs/{job_id}").json()
        if job["stage"] == stage and job["attempts"] == attempts:
            return job
        assert job["state"] not in ("indexed", "failed"), job
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} never reached {stage} on attempt {attempts}: {job}\n{served.tail()}")


def kill_child_until_not_ready(served: Served, name: str) -> tuple[int, dict]:
    """SIGKILL one of serve's children; (its pid, the 503 readiness body that follows)."""
    pid = served.child_pid(name)
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while (r := served.ready()).status_code != 503:
        assert time.time() < deadline, f"readiness never noticed the dead {name}"
        time.sleep(0.1)
    return pid, r.json()


def kill_worker_and_see_it_restarted(served: Served) -> None:
    pid, body = kill_child_until_not_ready(served, "worker")
    assert body["error_code"] == "not_ready" and "worker" in body["detail"], body
    assert body["checks"]["worker"]["ok"] is False and body["checks"]["database"]["ok"] is True
    served.wait_ready(timeout=180)  # serve started a new worker and it consumes again
    assert served.child_pid("worker") != pid
    assert not Path(f"/proc/{pid}").exists(), "the killed worker was left as a zombie"


def test_the_api_sees_what_the_worker_indexes(served):
    first = served.http.get("/v1/search", params={"q": "anything at all"})
    assert first.status_code == 200 and first.json()["items"] == []  # empty collection, opened by the API
    word = "quizzlethorpe"
    body = (f"# Model release checklist\n\nEvery release of the {word} model is approved by the AI risk owner "
            "after a signed validation report.\n").encode()
    up = served.upload("release.md", body)
    doc = served.wait_document(up["document_id"], timeout=240)
    assert doc["status"] == "indexed", doc
    hits = served.http.get("/v1/search", params={"q": word}).json()["items"]
    assert hits and hits[0]["document_id"] == up["document_id"], hits
    again = served.http.post(f"/v1/documents/{up['document_id']}/classify")
    assert again.status_code in (200, 201), again.text
    assert served.http.get(f"/v1/documents/{up['document_id']}/suggestions").json()["items"]

    made = served.cli("keys", "create", "--tenant", "second-workspace", "--role", "admin", "--json")
    assert made.returncode == 0, made.stderr
    other = httpx.get(f"{served.url}/v1/search", params={"q": word}, timeout=60,
                      headers={"Authorization": f"Bearer {json.loads(made.stdout)['key']}"})
    assert other.status_code == 200 and other.json()["items"] == [], other.text

    # another process (the CLI) reaches the same live store through the server `serve` runs
    rec = served.cli("reconcile", "--dry-run")
    assert rec.returncode == 0, rec.stderr
    report = json.loads(rec.stdout.strip().splitlines()[-1])
    assert report["orphan_vectors"] == 0 and report["documents_missing_vectors"] == [], report
    assert report["stuck_jobs"] == []


def test_a_worker_killed_during_embed_is_restarted_and_the_job_finishes_once(served):
    up = served.upload("long-policy.pdf", long_pdf())
    wait_stage(served, up["job_id"], "embed", attempts=1)
    killed = time.time()
    kill_worker_and_see_it_restarted(served)
    doc = served.wait_document(up["document_id"], timeout=TIME_LIMIT_S + LEASE_S)
    assert doc["status"] == "indexed", doc
    assert time.time() - killed < TIME_LIMIT_S + LEASE_S
    job = served.http.get(f"/v1/jobs/{up['job_id']}").json()
    assert job["state"] == "indexed" and job["attempts"] == 2, job

    (chunk_rows,) = served.sql("select count(*) from chunks where document_id = ?", up["document_id"])[0:1]
    assert chunk_rows[0] == doc["chunk_count"] > 0
    from core.models import DEFAULT_TENANT_ID
    from core.vectors import VectorStore, read_server_file

    with VectorStore(read_server_file(served.data / "chroma")["url"]) as store:
        vector_ids = store.ids(DEFAULT_TENANT_ID, document_id=up["document_id"])
    chunk_ids = {r[0] for r in served.sql("select id from chunks where document_id = ?", up["document_id"])}
    assert vector_ids == chunk_ids  # exactly once: no duplicate chunks, no stray vectors
    runs = served.sql("select count(distinct run_id) from suggestions where document_id = ?", up["document_id"])
    assert runs[0][0] == 1


def test_a_worker_killed_three_times_ends_worker_crash_and_a_reupload_retries(served):
    pdf = long_pdf().replace(b"service account", b"workload identity")  # other bytes than the test above
    up = served.upload("poison.pdf", pdf)
    for attempt in (1, 2, 3):
        wait_stage(served, up["job_id"], "embed", attempts=attempt)
        kill_worker_and_see_it_restarted(served)
    doc = served.wait_document(up["document_id"], timeout=TIME_LIMIT_S)
    assert doc["status"] == "failed" and doc["error_code"] == "worker_crash", doc
    assert served.sql("select count(*) from chunks where document_id = ?", up["document_id"])[0][0] == 0

    again = served.upload("poison-again.pdf", pdf)  # the same bytes: a new attempt, not the old failure
    assert again["document_id"] == up["document_id"] and again["retry_of"] == up["job_id"], again
    assert again["job_id"] != up["job_id"] and "duplicate_of" not in again
    doc = served.wait_document(up["document_id"], timeout=TIME_LIMIT_S)
    assert doc["status"] == "indexed" and doc["error_code"] is None, doc
    assert served.http.get(f"/v1/jobs/{again['job_id']}").json()["attempts"] == 1


def test_a_killed_vector_store_server_is_restarted_and_serves_the_same_data(served):
    before = served.http.get("/v1/search", params={"q": "validation report"}).json()["items"]
    assert before, "the earlier tests indexed documents"
    pid, body = kill_child_until_not_ready(served, "vector_store")
    assert "vector_store" in body["detail"], body
    served.wait_ready(timeout=120)
    assert served.child_pid("vector_store") != pid
    after = served.http.get("/v1/search", params={"q": "validation report"})
    assert after.status_code == 200, after.text
    assert [h["chunk_id"] for h in after.json()["items"]] == [h["chunk_id"] for h in before]
