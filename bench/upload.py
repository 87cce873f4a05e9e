"""Benchmark: upload enqueue latency (p50/p95/p99) with concurrent clients over loopback HTTP, no worker running.

Usage: .venv/bin/python -m bench.upload [--requests 400] [--clients 8] [--json out.json]
Starts the real app under uvicorn on a free loopback port with its default enqueue — the job row is the outbox,
and a worker's dispatcher publishes it to the embedded SQLite broker — and no consuming worker, so jobs only queue.
The dispatcher runs in a process of its own during the run (`python -m worker.outbox`, what `clausewise serve`'s
worker runs beside its consumer), so the publishing CPU is spent on the machine while the API answers, as it is
under `serve`; `--dispatcher after` runs one pass after the run instead (the API's own work alone). Each client
thread POSTs distinct Markdown and text files (2-20 KB of policy-like prose, generated in memory) to /v1/documents:
stream to disk, sha256, sniff, SQL insert of the document and its job; every answer must be 202, and every job must
reach the broker. Then the same files are uploaded again: every answer must be 200 with `duplicate_of` (stream,
hash, sniff, SQL lookup, no job). Latency is measured at the client.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench import harness

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def make_files(n: int, seed: int = 11, lo: int = 2_000, hi: int = 20_000) -> list[tuple[str, bytes, str]]:
    """n distinct policy-like Markdown / text files of lo..hi bytes: (filename, bytes, content type)."""
    from eval.corpus import ROLES, TOPICS, paragraph

    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        target = rng.randint(lo, hi)
        md = i % 3 != 2
        title = f"{topic[0]} standard CW-{i:05d}"
        parts = [f"# {title}" if md else title.upper(),
                 (f"Owner: {rng.choice(ROLES)}. Version {rng.randint(1, 9)}.{rng.randint(0, 20)}, "
                  f"reviewed {2023 + rng.randint(0, 2)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}.")]
        size, sec = sum(len(p) + 2 for p in parts), 1
        while size < target:
            if md and rng.random() < 0.3:
                parts.append(f"## {sec}. {rng.choice(topic[1]).capitalize()}")
                sec += 1
            parts.append(paragraph(rng, topic))
            size += len(parts[-1]) + 2
        body = "\n\n".join(parts).encode()[:target] + b"\n"
        out.append((f"policy-{i:05d}.{'md' if md else 'txt'}", body, "text/markdown" if md else "text/plain"))
    return out


def run_clients(url: str, files: list[tuple[str, bytes, str]], clients: int,
                key: str = "") -> tuple[float, list[dict]]:
    """POST every file once, spread over `clients` threads each with its own httpx.Client; (wall s, results)."""
    import httpx

    results: list[dict | None] = [None] * len(files)
    next_i = iter(range(len(files)))
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as c:
            start.wait()
            while True:
                with lock:
                    i = next(next_i, None)
                if i is None:
                    return
                name, body, ctype = files[i]
                t = time.perf_counter()
                try:
                    r = c.post("/v1/documents", files={"file": (name, body, ctype)})
                    ms = (time.perf_counter() - t) * 1000
                    results[i] = {"ms": ms, "status": r.status_code, "body": r.json()}
                except Exception as e:  # noqa: BLE001 - a failed request is a result, not a crash
                    results[i] = {"ms": (time.perf_counter() - t) * 1000, "status": None, "body": {"error": repr(e)}}

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    return time.perf_counter() - t0, results  # type: ignore[return-value]


def summarize(wall_s: float, results: list[dict], ok) -> dict:
    ms = np.array([r["ms"] for r in results])
    good = sum(1 for r in results if ok(r))
    return {"requests": len(results), "ok": good, "seconds": round(wall_s, 2),
            "uploads_per_s": round(len(results) / wall_s, 1),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)},
            "max_ms": round(float(ms.max()), 2)}


class DispatcherProcess:
    """The outbox dispatcher alone in a process (what a worker runs beside its consumer), on the bench's data."""

    def __init__(self, settings) -> None:
        self.env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(settings.data_dir), "CLAUSEWISE_ENV": settings.env,
                    "CLAUSEWISE_LOG_LEVEL": "WARNING"}

    def __enter__(self) -> DispatcherProcess:
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-m", "worker.outbox"], env=self.env)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(60)


class ServerProcess:
    """The app under uvicorn in a process of its own (one worker process, like `clausewise serve`)."""

    def __init__(self, settings) -> None:
        from bench.live import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(settings.data_dir), "CLAUSEWISE_ENV": settings.env,
                    "CLAUSEWISE_RATE_UPLOADS_PER_MINUTE": str(settings.rate_uploads_per_minute),
                    "CLAUSEWISE_LOG_LEVEL": "WARNING"}

    def __enter__(self) -> ServerProcess:
        import subprocess

        import httpx

        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
                                      "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                                      "--no-access-log"], env=self.env)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("the API process did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()   # SIGTERM: the outbox publishes what it still holds before the process ends
        self.proc.wait(60)


def _outbox(settings) -> int:
    """Jobs accepted and not yet published."""
    with sqlite3.connect(settings.data_dir / "clausewise.db") as con:
        return con.execute("SELECT count(*) FROM jobs WHERE published_at IS NULL").fetchone()[0]


def main(argv: list[str] | None = None) -> dict:
    ap = harness.parser(__doc__)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--dispatcher", choices=["process", "after"], default="process",
                    help="publish the accepted jobs from a dispatcher process running beside the API (default, as "
                         "under `clausewise serve`), or in one pass after the run")
    ap.add_argument("--server", choices=["process", "thread"], default="process",
                    help="the API in a uvicorn process of its own, as `clausewise serve` runs it (default), or in a "
                         "thread of the clients' process (figures before 2026-12-06: the clients' GIL is the server's)")
    args = ap.parse_args(argv)

    from api.app import create_app
    from bench.harness import machine, peak_rss_mib
    from bench.live import LiveServer
    from core.auth import create_key
    from core.db import Database, upgrade
    from core.settings import Settings

    warm = args.clients
    files = make_files(warm + args.requests, seed=args.seed)
    timed = files[warm:]
    dups = random.Random(args.seed).sample(timed, len(timed))

    with tempfile.TemporaryDirectory(prefix="cw-bench-upload-") as tmp:
        # a throughput benchmark: the per-key upload rate limit (600 a minute by default) is off here
        settings = Settings(env="test", data_dir=Path(tmp) / "data", rate_uploads_per_minute=0)
        settings.ensure_dirs()
        upgrade(settings.resolved_database_url)
        db = Database.from_settings(settings)
        _, key = create_key(db, tenant="default", role="uploader", name="bench")  # uploads need a key
        db.dispose()
        serve = ServerProcess(settings) if args.server == "process" else \
            LiveServer(create_app(settings), access_log=False)  # not eager: Celery to the embedded SQLite broker
        from contextlib import nullcontext

        from core.runtime import Runtime
        from worker.celery_app import make_celery
        from worker.outbox import celery_sender, drain

        publisher = DispatcherProcess(settings) if args.dispatcher == "process" else nullcontext()
        with publisher, serve as srv:
            _, warm_res = run_clients(srv.url, files[:warm], args.clients, key)  # first requests open DB, broker
            new_s, new_res = run_clients(srv.url, timed, args.clients, key)
            dup_s, dup_res = run_clients(srv.url, dups, args.clients, key)
            deadline = time.time() + 60   # the dispatcher catches up with the last uploads
            while args.dispatcher == "process" and time.time() < deadline and _outbox(settings):
                time.sleep(0.1)
        left_in_outbox = _outbox(settings)
        rt = Runtime(settings)   # publish what is left (everything with --dispatcher after)
        published_after = drain(rt, celery_sender(make_celery(settings)))
        rt.close()
        with sqlite3.connect(settings.data_dir / "broker.db") as con:
            queued = con.execute("SELECT count(*) FROM kombu_message").fetchone()[0]
        with sqlite3.connect(settings.data_dir / "clausewise.db") as con:
            n_docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]
            n_jobs = con.execute("SELECT count(*) FROM jobs").fetchone()[0]

    sent = {f[0]: r["body"].get("document_id") for f, r in zip(timed, new_res) if r["status"] == 202}
    rows = {
        "new (202, enqueued)": summarize(new_s, new_res, lambda r: r["status"] == 202 and r["body"].get("job_id")),
        "duplicate (200)": summarize(dup_s, dup_res, lambda r: False),
    }
    rows["duplicate (200)"]["ok"] = sum(
        1 for f, r in zip(dups, dup_res)
        if r["status"] == 200 and r["body"].get("duplicate_of") and r["body"]["duplicate_of"] == sent.get(f[0]))
    sizes = [len(f[1]) for f in timed]
    failures = [r for r in warm_res + new_res if r["status"] != 202][:3] + \
               [r for r in dup_res if r["status"] != 200][:3]
    result = {"benchmark": "upload", "machine": machine(), "clients": args.clients, "requests": args.requests,
              "server": args.server,
              "warm_up_requests": warm, "file_bytes": {"min": min(sizes), "max": max(sizes),
                                                       "mean": round(float(np.mean(sizes)))},
              "broker": "celery, embedded SQLite (sqla+sqlite), no worker", "rows": rows,
              "dispatcher": args.dispatcher, "published_after_the_run": published_after,
              "broker_messages_queued": queued, "documents": n_docs, "jobs": n_jobs,
              "sample_failures": failures, "peak_rss_mib": peak_rss_mib()}
    result["all_ok"] = (rows["new (202, enqueued)"]["ok"] == args.requests
                        and rows["duplicate (200)"]["ok"] == args.requests
                        and all(r["status"] == 202 for r in warm_res)
                        and queued == n_jobs == n_docs == warm + args.requests
                        and (args.dispatcher == "after" or left_in_outbox == 0))

    print(f"machine: {result['machine']}")
    print(f"{args.requests} uploads x {args.clients} concurrent clients over loopback, files "
          f"{result['file_bytes']} bytes (Markdown/text), {result['broker']}")
    print(f"{'':22}{'ok':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'uploads/s':>11}")
    for name, r in rows.items():
        print(f"{name:22}{str(r['ok']) + '/' + str(r['requests']):>9}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}"
              f"{r['p99_ms']:>9.2f}{r['max_ms']:>9.2f}{r['uploads_per_s']:>11.1f}")
    print(f"dispatcher: {args.dispatcher} (jobs published after the run: {published_after}); "
          f"broker messages queued {queued}, documents {n_docs}, jobs {n_jobs} (incl. {warm} warm-up); "
          f"peak RSS {result['peak_rss_mib']} MiB")
    for f in failures:
        print(f"failure: {f}", file=sys.stderr)
    harness.finish(result, args.json)
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["all_ok"] else 1)
