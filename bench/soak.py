"""Soak and chaos: N uploads from concurrent clients while workers are SIGKILLed, the stores and the API restarted.

Usage: .venv/bin/python -m bench.soak [--path embedded|scale] [--uploads 1000] [--clients 8] [--kills 20]
                                      [--settle 2700] [--json out.json]

`embedded`: `clausewise serve` on a fresh data directory (SQLite, the SQLite broker, the Chroma server and the
worker it supervises). The harness SIGKILLs the worker (serve restarts it) `--kills` times at random moments,
SIGKILLs the Chroma server once (serve restarts it) and restarts serve itself once.
`scale`: PostgreSQL (a fresh schema in CLAUSEWISE_SOAK_PG_URL's database), and a Redis server and a Chroma server the
harness starts itself on free loopback ports (never the machine's shared ones), 2 `clausewise worker` processes and
`clausewise serve --no-worker`. The harness SIGKILLs a worker and starts it again `--kills` times, restarts Redis
and the Chroma server once each, and the API once.

The uploads: 85 % distinct evidence (text, Markdown, CSV, logs, JSON, PDF, DOCX), 10 % bad (random bytes named
.pdf, truncated PDFs, encrypted PDFs, text renamed .pdf, oversize, DOCX zip bombs), 5 % exact duplicates of earlier
uploads under other names. A reviewer confirms suggestions as documents are indexed. After the uploads it waits up
to `--settle` seconds for every accepted document to end indexed or failed, then reports: accepted, indexed,
refused (by code), failed (by code), lost (accepted, neither indexed nor failed), duplicated (two documents for one
sha256 in a tenant), orphan vectors and chunks (`reconcile --dry-run`, before and after a repairing `reconcile`),
ledger verification, upload latency p50/p95/p99 and wall time.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench import harness

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("CLAUSEWISE_SOAK_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MAX_UPLOAD = 1024 * 1024   # the soak's upload limit: oversize files stay cheap to send


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus(n: int, seed: int) -> list[dict]:
    """The uploads in order: name, bytes, kind (good / bad category / duplicate) and, for a duplicate, its original."""
    sys.path.insert(0, str(ROOT / "tests"))

    from eval.corpus import ROLES, TOPICS, make_auth_log, make_docx, make_pdf, page_text

    rng = random.Random(seed)
    items: list[dict] = []
    good: list[dict] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.05 and good:
            orig = rng.choice(good)
            items.append({"name": f"copy-{i:05d}-{orig['name']}", "data": orig["data"], "kind": "duplicate",
                          "original": orig["name"]})
            continue
        if roll < 0.15:
            bad = rng.choice(["random_pdf", "truncated_pdf", "encrypted_pdf", "renamed_text", "oversize",
                              "zip_bomb"])
            data = _bad(bad, i, rng)
            ext = {"zip_bomb": "docx"}.get(bad, "pdf" if bad != "oversize" else "txt")
            items.append({"name": f"bad-{bad}-{i:05d}.{ext}", "data": data, "kind": bad})
            continue
        topic = rng.choice(TOPICS)
        fmt = rng.choice(["md", "txt", "log", "csv", "json", "pdf", "docx"])
        title = f"{topic[0]} record CW-{seed}-{i:05d}"
        if fmt == "md":
            data = (f"# {title}\n\nOwner: {rng.choice(ROLES)}.\n\n" + page_text(rng, topic, 2)).encode()
        elif fmt == "txt":
            data = (title.upper() + "\n\n" + page_text(rng, topic, 2)).encode()
        elif fmt == "log":
            data = make_auth_log(rng, 30).encode()
        elif fmt == "csv":
            rows = "".join(f"{i}-{r},{rng.choice(ROLES)},svc-{i}-{r},quarterly,{rng.choice(['keep', 'revoke'])}\n"
                           for r in range(12))
            data = ("id,owner,identity,review,decision\n" + rows).encode()
        elif fmt == "json":
            data = json.dumps({"key": f"SEC-{i}", "fields": {"summary": title, "description":
                                                             page_text(rng, topic, 1)}}).encode()
        elif fmt == "pdf":
            data = make_pdf([title + "\n" + page_text(rng, topic, 2)])
        else:
            data = make_docx(title, [page_text(rng, topic, 2)])
        item = {"name": f"doc-{i:05d}.{fmt}", "data": data, "kind": "good"}
        items.append(item)
        good.append(item)
    return items


def _bad(kind: str, i: int, rng: random.Random) -> bytes:
    """One upload of a bad category."""
    sys.path.insert(0, str(ROOT / "tests"))
    import factories as F

    from eval.corpus import TOPICS, make_pdf, page_text

    if kind == "random_pdf":
        return rng.randbytes(4000)
    if kind == "truncated_pdf":
        return make_pdf([f"record {i}\n" + page_text(rng, rng.choice(TOPICS))])[:700]
    if kind == "encrypted_pdf":
        return F.encrypted_pdf(f"pw{i}")
    if kind == "renamed_text":
        return f"Plain text policy number {i}.\n".encode() * 30
    if kind == "oversize":
        return f"oversize {i} ".encode() * (MAX_UPLOAD // 8)
    return F.docx_zip_bomb(120)


class Stack:
    """The processes under test, started and restarted by the harness."""

    def __init__(self, path: str, tmp: Path) -> None:
        self.path, self.tmp = path, tmp
        self.data = tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = tmp / "logs"
        self.logs.mkdir(parents=True)
        self.env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(self.data), "CLAUSEWISE_ENV": "test",
                    "CLAUSEWISE_JOB_LEASE_S": "10", "CLAUSEWISE_JOB_TIME_LIMIT_S": "300",
                    "CLAUSEWISE_RATE_UPLOADS_PER_MINUTE": "0", "CLAUSEWISE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
                    "CLAUSEWISE_LOG_LEVEL": "WARNING", "ANONYMIZED_TELEMETRY": "False", "DO_NOT_TRACK": "1"}
        self.api: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.redis = self.chroma = None
        self.schema = None
        self._last_killed: int | None = None
        if path == "scale":
            self._start_scale_stores()

    # -- the scale path's stores: PostgreSQL schema, our own Redis and Chroma server --
    def _start_scale_stores(self) -> None:
        import uuid

        from sqlalchemy import text

        from core.db import make_engine, upgrade

        self.schema = f"cw_soak_{uuid.uuid4().hex[:10]}"
        eng = make_engine(PG_URL)
        with eng.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {self.schema}"))
        eng.dispose()
        sep = "&" if "?" in PG_URL else "?"
        db_url = f"{PG_URL}{sep}options=-csearch_path%3D{self.schema}"
        upgrade(db_url)
        self.redis_port, self.chroma_port = free_port(), free_port()
        (self.tmp / "redis").mkdir()
        self.start_redis()
        self.start_chroma()
        redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env.update({"CLAUSEWISE_DATABASE_URL": db_url, "CLAUSEWISE_BROKER_URL": redis_url,
                         "CLAUSEWISE_RESULT_BACKEND": redis_url,
                         "CLAUSEWISE_CHROMA_URL": f"http://127.0.0.1:{self.chroma_port}"})

    def start_redis(self) -> None:
        # appendonly: a restarted Redis keeps the queue it had (the recovery sweep covers what it still loses)
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(self.tmp / "redis"),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
            stdout=(self.logs / "redis.log").open("ab"), stderr=subprocess.STDOUT)
        _wait_port(self.redis_port, 30)

    def start_chroma(self) -> None:
        chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
        self.chroma = subprocess.Popen(
            [chroma, "run", "--path", str(self.tmp / "chroma"), "--host", "127.0.0.1", "--port",
             str(self.chroma_port)], stdout=(self.logs / "chroma.log").open("ab"), stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        _wait_port(self.chroma_port, 60)

    # -- API and workers --
    def start_api(self) -> None:
        args = [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)]
        if self.path == "scale":
            args.append("--no-worker")
        self.api = subprocess.Popen(args, env=self.env, stdout=(self.logs / "serve.log").open("ab"),
                                    stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 300
        import httpx

        while time.time() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(f"serve exited: {(self.logs / 'serve.log').read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/v1/ready", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError("serve did not become ready in 300 s")

    def stop_api(self) -> None:
        if self.api and self.api.poll() is None:
            self.api.send_signal(signal.SIGTERM)
            try:
                self.api.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.api.pid, signal.SIGKILL)
                self.api.wait()

    def start_worker(self) -> None:
        log = (self.logs / f"worker-{len(self.workers)}.log").open("ab")
        self.workers.append(subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--loglevel", "WARNING"],
                                             env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def key(self) -> str:
        if self.path == "embedded":
            return (self.data / "admin.key").read_text().strip()
        out = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--role", "admin", "--name",
                              "soak"], env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def served_child(self, name: str) -> int | None:
        try:
            state = json.loads((self.data / "run" / "serve.json").read_text())
            return state["children"][name]["pid"]
        except (OSError, KeyError, ValueError):
            return None

    def kill_a_worker(self, rng: random.Random) -> bool:
        """SIGKILL one worker; on the scale path start another in its place (serve restarts its own)."""
        if self.path == "embedded":   # wait until serve reports its worker up again (a stale pid is no kill)
            deadline = time.time() + 180
            while time.time() < deadline:
                try:
                    child = json.loads((self.data / "run" / "serve.json").read_text())["children"]["worker"]
                except (OSError, KeyError, ValueError):
                    child = {}
                if child.get("state") == "up" and child.get("pid") and child["pid"] != self._last_killed:
                    try:
                        os.kill(child["pid"], signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    self._last_killed = child["pid"]
                    return True
                time.sleep(0.5)
            return False
        alive = [w for w in self.workers if w.poll() is None]
        if not alive:
            return False
        victim = rng.choice(alive)
        victim.kill()
        victim.wait()
        self.workers.remove(victim)
        self.start_worker()
        return True

    def restart_chroma(self) -> None:
        if self.path == "embedded":
            pid = self.served_child("vector_store")
            if pid:
                os.kill(pid, signal.SIGKILL)   # serve's supervisor starts it again on the same port
            return
        self.chroma.kill()
        self.chroma.wait()
        self.start_chroma()

    def restart_redis(self) -> None:
        self.redis.send_signal(signal.SIGTERM)   # a clean stop: the append-only file is flushed
        self.redis.wait(30)
        self.start_redis()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=900)

    def sql(self, query: str) -> list[tuple]:
        from sqlalchemy import text

        from core.db import make_engine

        url = self.env.get("CLAUSEWISE_DATABASE_URL") or f"sqlite:///{self.data / 'clausewise.db'}"
        eng = make_engine(url)
        try:
            with eng.connect() as conn:
                return [tuple(r) for r in conn.execute(text(query))]
        finally:
            eng.dispose()

    def close(self) -> None:
        self.stop_api()
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(60)
            except subprocess.TimeoutExpired:
                w.kill()
        for p in (self.chroma, self.redis):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)
        if self.schema:
            from sqlalchemy import text

            from core.db import make_engine

            eng = make_engine(PG_URL)
            with eng.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
            eng.dispose()


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def upload_all(stack: Stack, key: str, items: list[dict], clients: int, results: list) -> None:
    """Every item POSTed once by `clients` threads; a transport error (the API restarting) is retried with backoff,
    so a request that reached the server before it died comes back as a duplicate, never as a second document."""
    import httpx

    lock = threading.Lock()
    todo = iter(range(len(items)))

    def client() -> None:
        with httpx.Client(base_url=stack.url, timeout=120, headers={"Authorization": f"Bearer {key}"}) as c:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                item, tries = items[i], 0
                while True:
                    t = time.perf_counter()
                    try:
                        r = c.post("/v1/documents", files={"file": (item["name"], item["data"])})
                    except httpx.TransportError as e:
                        tries += 1
                        if tries > 120:
                            results[i] = {"status": None, "error": f"gave up: {e}"}
                            break
                        time.sleep(min(5.0, 0.2 * tries))
                        continue
                    if r.status_code in (502, 503) and tries < 120:   # not ready yet after a restart
                        tries += 1
                        time.sleep(1.0)
                        continue
                    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                    results[i] = {"status": r.status_code, "ms": 1000 * (time.perf_counter() - t),
                                  "document_id": body.get("document_id"), "error_code": body.get("error_code"),
                                  "retried": tries}
                    break

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def reviewer(stack: Stack, key: str, stop: threading.Event, decisions: Counter) -> None:
    """Confirms the top suggestion of indexed documents while the chaos goes on (the ledger under faults)."""
    import httpx

    seen: set[str] = set()
    with httpx.Client(base_url=stack.url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as c:
        while not stop.is_set():
            try:
                docs = c.get("/v1/documents", params={"status": "indexed", "page_size": 50}).json()["items"]
                for d in docs:
                    if d["document_id"] in seen or stop.is_set():
                        continue
                    seen.add(d["document_id"])
                    items = c.get(f"/v1/documents/{d['document_id']}/suggestions").json().get("items") or []
                    if items:
                        r = c.post(f"/v1/suggestions/{items[0]['suggestion_id']}/decisions",
                                   json={"decision": "confirm"})
                        decisions[r.status_code] += 1
            except (httpx.TransportError, ValueError, KeyError):
                decisions["transport_error"] += 1
            stop.wait(3.0)


def chaos(stack: Stack, rng: random.Random, kills: int, stop: threading.Event, log: list[dict],
          span_s: float) -> None:
    """SIGKILL workers at random moments spread over `span_s`; restart the stores and the API once each."""
    events = ["kill_worker"] * kills + ["restart_chroma"] + (["restart_redis"] if stack.path == "scale" else [])
    rng.shuffle(events)
    events.insert(0, "restart_api")   # early, while the clients are still uploading
    start = time.time()
    gap = span_s / (len(events) + 1)
    for n, ev in enumerate(events):
        if stop.wait(3.0 if n == 0 else rng.uniform(0.5 * gap, 1.5 * gap)):
            break
        t = time.time()
        try:
            if ev == "kill_worker":
                done = stack.kill_a_worker(rng)
            elif ev == "restart_chroma":
                stack.restart_chroma()
                done = True
            elif ev == "restart_redis":
                stack.restart_redis()
                done = True
            else:
                stack.stop_api()
                stack.start_api()
                done = True
        except Exception as e:  # noqa: BLE001 - a failed fault injection is reported, the run goes on
            done = False
            log.append({"event": ev, "error": f"{type(e).__name__}: {e}"})
        log.append({"event": ev, "ok": done, "at_s": round(t - start, 1), "took_s": round(time.time() - t, 1)})


def main(argv: list[str] | None = None) -> dict:
    ap = harness.parser(__doc__)
    ap.add_argument("--path", choices=["embedded", "scale"], default="embedded")
    ap.add_argument("--uploads", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--settle", type=float, default=2700,
                    help="seconds to wait for the queue to drain (1,000 uploads under 20 worker kills take about 30 "
                         "minutes on 2 cores: the default leaves room; a document still open after it counts as lost)")
    ap.add_argument("--chaos-span", type=float, default=None, help="seconds over which the faults are spread "
                                                                   "(default: an estimate of the run)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    items = corpus(args.uploads, args.seed)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=f"cw-soak-{args.path}-") as tmp:
        stack = Stack(args.path, Path(tmp))
        try:
            stack.start_api()
            if args.path == "scale":
                stack.start_worker()
                stack.start_worker()
            key = stack.key()
            results: list = [None] * len(items)
            stop_chaos, stop_review = threading.Event(), threading.Event()
            events: list[dict] = []
            decisions: Counter = Counter()
            span = args.chaos_span or max(60.0, 0.45 * args.uploads)   # about the time the workers need
            t_chaos = threading.Thread(target=chaos, args=(stack, rng, args.kills, stop_chaos, events, span))
            t_review = threading.Thread(target=reviewer, args=(stack, key, stop_review, decisions))
            t_chaos.start()
            t_review.start()
            t0 = time.time()
            upload_all(stack, key, items, args.clients, results)
            upload_s = time.time() - t0
            accepted = {r["document_id"] for r in results if r and r["status"] in (200, 202) and r["document_id"]}
            # settle: every accepted document indexed or failed (the chaos keeps going until it is done)
            deadline = time.time() + args.settle
            pending = set(accepted)
            while pending and time.time() < deadline:
                if not t_chaos.is_alive() and all(w.poll() is not None for w in stack.workers) and \
                        stack.path == "scale":
                    stack.start_worker()
                rows = stack.sql("SELECT id, status FROM documents")
                done = {i for i, s in rows if s in ("indexed", "failed")}
                pending = accepted - done
                time.sleep(3)
            settle_s = time.time() - t0 - upload_s
            stop_chaos.set()
            t_chaos.join()
            stop_review.set()
            t_review.join()
            if stack.path == "scale":
                while len([w for w in stack.workers if w.poll() is None]) < 2:
                    stack.start_worker()
            rows = stack.sql("SELECT id, status, error_code FROM documents")
            status = {i: (s, c) for i, s, c in rows}
            dup_groups = stack.sql("SELECT tenant_id, sha256, count(*) FROM documents GROUP BY tenant_id, sha256 "
                                   "HAVING count(*) > 1")
            before = json.loads(stack.cli("reconcile", "--dry-run").stdout or "{}")
            repair = json.loads(stack.cli("reconcile").stdout or "{}")
            after = json.loads(stack.cli("reconcile", "--dry-run").stdout or "{}")
            orphan_chunks = stack.sql("SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id "
                                      "WHERE d.id IS NULL OR d.status <> 'indexed'")[0][0]
            verify = stack.cli("ledger", "verify")
            ledger = json.loads(verify.stdout or "{}")
        finally:
            stack.close()
    wall_s = time.time() - started
    refused = Counter(r["error_code"] for r in results if r and r["status"] and r["status"] >= 400)
    failed = Counter(status[d][1] for d in accepted if d in status and status[d][0] == "failed")
    lost = sorted(d for d in accepted if status.get(d, ("missing",))[0] not in ("indexed", "failed"))
    no_answer = [i for i, r in enumerate(results) if not r or r["status"] is None]
    lat = [r["ms"] for r in results if r and r.get("ms") is not None and r["status"] in (200, 202)]
    kinds = Counter(it["kind"] for it in items)
    result = {
        "benchmark": "soak", "path": args.path, "uploads": args.uploads, "clients": args.clients,
        "corpus": dict(kinds),
        "accepted": len(accepted), "accepted_new_202": sum(1 for r in results if r and r["status"] == 202),
        "duplicates_200": sum(1 for r in results if r and r["status"] == 200),
        "indexed": sum(1 for d in accepted if status.get(d, ("",))[0] == "indexed"),
        "refused": dict(refused), "refused_without_code": sum(1 for r in results
                                                              if r and r["status"] and r["status"] >= 400
                                                              and not r["error_code"]),
        "failed": dict(failed), "failed_without_code": sum(1 for d in accepted if status.get(d, ("", ""))[0]
                                                           == "failed" and not status[d][1]),
        "lost": len(lost), "lost_ids": lost[:20], "no_answer": len(no_answer),
        "duplicated": len(dup_groups),
        "reconcile_dry_run_before": {k: before.get(k) for k in ("orphan_vectors", "documents_missing_vectors",
                                                                 "stuck_jobs")},
        "reconcile_repair": {k: repair.get(k) for k in ("orphans_deleted", "vectors_restored")},
        "orphans_after_reconcile": {"orphan_vectors": after.get("orphan_vectors"),
                                    "documents_missing_vectors": len(after.get("documents_missing_vectors") or []),
                                    "orphan_chunks": orphan_chunks},
        "ledger": {"ok": ledger.get("ok"), "exit_code": verify.returncode,
                   "rows": sum(t.get("rows", 0) for t in ledger.get("tenants", []))},
        "decisions": dict(decisions), "chaos": events,
        "worker_kills": sum(1 for e in events if e.get("event") == "kill_worker" and e.get("ok")),
        "upload_latency_ms": harness.percentiles(lat, 50, 95, 99) if lat else {},
        "upload_s": round(upload_s, 1), "settle_s": round(settle_s, 1), "wall_s": round(wall_s, 1),
    }
    result["all_ok"] = (result["lost"] == 0 and result["duplicated"] == 0 and result["no_answer"] == 0
                        and result["refused_without_code"] == 0 and result["failed_without_code"] == 0
                        and result["orphans_after_reconcile"]["orphan_vectors"] == 0
                        and result["orphans_after_reconcile"]["documents_missing_vectors"] == 0
                        and result["orphans_after_reconcile"]["orphan_chunks"] == 0
                        and result["ledger"]["ok"] is True)
    print(json.dumps({k: v for k, v in result.items() if k != "chaos"}, indent=1, default=str))
    harness.finish(result, args.json)
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["all_ok"] else 1)
