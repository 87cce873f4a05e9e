"""The processes `clausewise serve` runs beside the API on one machine: a Chroma server owning the embedded vector
directory (so that the API, the worker and the CLI all read one live store), and a Celery worker."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from core.vectors import EmbeddedLock, StoreBusy, is_remote, server_file
from worker.supervisor import ChildSpec, Supervisor

log = logging.getLogger("clausewise.serve")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chroma_command() -> list[str]:
    exe = Path(sys.executable).with_name("chroma")
    found = str(exe) if exe.exists() else shutil.which("chroma")
    if not found:
        raise RuntimeError("the `chroma` command (package chromadb) was not found beside Python or on PATH")
    return [found]


def _heartbeat(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as r:  # noqa: S310 - our loopback server
        return r.status == 200


@dataclass
class LocalServices:
    supervisor: Supervisor
    settings: Settings  # what the API and the worker use: the embedded store reached through its server
    chroma_dir: str | None = None

    def stop(self) -> None:
        self.supervisor.stop()
        if self.chroma_dir is not None:
            server_file(self.chroma_dir).unlink(missing_ok=True)
            EmbeddedLock.release(self.chroma_dir)


def child_env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(settings.data_dir.resolve()),
           "CLAUSEWISE_CHROMA_URL": settings.resolved_chroma_url, "DO_NOT_TRACK": "1",
           "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("database_url", "broker_url", "result_backend"):
        value = getattr(settings, name)
        if value:
            env[f"CLAUSEWISE_{name.upper()}"] = value
    return env


def start(settings: Settings, *, worker: bool) -> LocalServices:
    """Start what this machine needs beside the API and return the settings the API should use."""
    run_dir = settings.data_dir.resolve() / "run"
    logs = settings.data_dir.resolve() / "logs"
    sup = Supervisor(run_dir / "serve.json")
    chroma_dir = None
    if not is_remote(settings.resolved_chroma_url):
        chroma_dir = settings.resolved_chroma_url
        try:
            EmbeddedLock.acquire(chroma_dir)
        except StoreBusy as busy:
            raise RuntimeError(f"{busy}; stop it first (only one process may own an embedded store)") from None
        port = settings.chroma_port or free_port()
        url = f"http://127.0.0.1:{port}"
        sup.add(ChildSpec("vector_store", [*chroma_command(), "run", "--path", chroma_dir, "--host", "127.0.0.1",
                                           "--port", str(port)],
                          env={**os.environ, "ANONYMIZED_TELEMETRY": "False"}, log_path=logs / "chroma.log",
                          ready=lambda: _heartbeat(url)))
        try:
            sup.start("vector_store", wait_ready_s=60)
        except BaseException:
            sup.stop()
            EmbeddedLock.release(chroma_dir)
            raise
        server_file(chroma_dir).write_text(f'{{"url": "{url}", "pid": {os.getpid()}}}\n')
        settings = settings.model_copy(update={"chroma_url": url})
        settings.__dict__.pop("resolved_chroma_url", None)  # a cached_property of the copied object
    services = LocalServices(sup, settings, chroma_dir)
    if worker and not settings.task_always_eager:
        ready_file = run_dir / "worker.ready"
        sup.add(ChildSpec("worker", [sys.executable, "-m", "api.cli", "worker"],
                          env={**child_env(settings), "CLAUSEWISE_READY_FILE": str(ready_file)},
                          log_path=None, ready=ready_file.exists,
                          before_start=lambda: ready_file.unlink(missing_ok=True)))
        sup.start("worker")
    sup.run_in_background()
    return services
