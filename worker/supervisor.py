"""Supervise the processes `clausewise serve` starts: restart a child that died, with backoff, and say so.

Each child has a readiness check (the Chroma server answers its heartbeat; the worker wrote its ready file once it
consumes the queue). A child is `starting` until ready, `up` while its process lives, and `down` from its exit
until it is started again: after 1 s, then 2, 4 … up to 30 s while it keeps dying young; a child that ran a
minute before dying starts over at 1 s. Children get SIGTERM if `serve` itself dies (PR_SET_PDEATHSIG), so no
Chroma server outlives the process that holds its directory's lock. The state of every child is written to a
JSON file for operators and tests (`$DATA_DIR/run/serve.json`).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("clausewise.supervisor")
PR_SET_PDEATHSIG = 1
STABLE_AFTER_S = 60.0
MAX_BACKOFF_S = 30.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path | None  # None: the child writes to serve's own stdout and stderr
    ready: Callable[[], bool]  # is the started process serving yet?
    before_start: Callable[[], None] = lambda: None


@dataclass
class Child:
    spec: ChildSpec
    proc: subprocess.Popen | None = None
    state: str = "down"  # down | starting | up
    restarts: int = 0
    started_at: float = 0.0
    backoff_s: float = 1.0
    next_start_at: float = 0.0
    last_exit: str | None = None
    history: list[dict] = field(default_factory=list)

    def status(self) -> dict:
        out = {"ok": self.state == "up", "state": self.state, "pid": self.proc.pid if self.proc else None,
               "restarts": self.restarts}
        if self.state != "up":
            if self.state == "starting":
                out["error"] = f"{self.spec.name} is starting"
            else:
                wait = max(0.0, self.next_start_at - time.monotonic())
                out["error"] = f"{self.spec.name} exited ({self.last_exit}); restarting in {wait:.1f} s"
        return out


def _exit_text(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


class Supervisor:
    def __init__(self, state_file: Path, poll_s: float = 0.25) -> None:
        self.state_file = state_file
        self.poll_s = poll_s
        self.children: dict[str, Child] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- starting -------------------------------------------------------------------------------------------
    def add(self, spec: ChildSpec) -> Child:
        child = Child(spec)
        self.children[spec.name] = child
        return child

    def _spawn(self, child: Child) -> None:
        spec = child.spec
        spec.before_start()
        if spec.log_path is None:
            child.proc = subprocess.Popen(spec.argv, env=spec.env, stdin=subprocess.DEVNULL,
                                          preexec_fn=_die_with_parent)
        else:
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(spec.log_path, "ab") as out:
                child.proc = subprocess.Popen(spec.argv, env=spec.env, stdout=out, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        child.state, child.started_at = "starting", time.monotonic()
        log.info("started %s (pid %d)", spec.name, child.proc.pid)
        self._write_state()

    def start(self, name: str, *, wait_ready_s: float | None = None) -> None:
        """Start one child now (in the caller's thread), optionally waiting until it is ready."""
        child = self.children[name]
        with self._lock:
            self._spawn(child)
        if wait_ready_s is not None:
            deadline = time.monotonic() + wait_ready_s
            while not self._check(child):
                if child.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited while starting ({_exit_text(child.proc.returncode)}); "
                                       f"see {child.spec.log_path or 'the log above'}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} was not ready within {wait_ready_s:.0f} s")
                time.sleep(0.1)

    def run_in_background(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self._thread.start()

    # --- watching -------------------------------------------------------------------------------------------
    def _check(self, child: Child) -> bool:
        if child.state == "starting" and child.proc is not None and child.proc.poll() is None:
            try:
                ready = child.spec.ready()
            except Exception:  # noqa: BLE001 - not ready yet
                ready = False
            if ready:
                child.state = "up"
                log.info("%s is up (pid %d)", child.spec.name, child.proc.pid)
                self._write_state()
        return child.state == "up"

    def _tick(self) -> None:
        now = time.monotonic()
        for child in self.children.values():
            if self._stopping.is_set():
                return
            with self._lock:
                if child.proc is not None and child.state != "down" and child.proc.poll() is not None:
                    lived = now - child.started_at
                    child.last_exit = _exit_text(child.proc.returncode)  # poll() reaped it: no zombie
                    child.backoff_s = 1.0 if lived >= STABLE_AFTER_S else child.backoff_s
                    child.next_start_at = now + child.backoff_s
                    child.state = "down"
                    child.history.append({"pid": child.proc.pid, "exit": child.last_exit, "lived_s": round(lived, 1)})
                    log.error("%s (pid %d) died after %.1f s: %s; restarting in %.0f s", child.spec.name,
                              child.proc.pid, lived, child.last_exit, child.backoff_s)
                    child.backoff_s = min(MAX_BACKOFF_S, child.backoff_s * 2)
                    self._write_state()
                elif child.state == "down" and child.proc is not None and now >= child.next_start_at:
                    child.restarts += 1
                    log.warning("restarting %s (restart %d)", child.spec.name, child.restarts)
                    try:
                        self._spawn(child)
                    except OSError:
                        log.exception("could not start %s", child.spec.name)
                        child.next_start_at = now + child.backoff_s
                else:
                    self._check(child)

    def _loop(self) -> None:
        while not self._stopping.wait(self.poll_s):
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the supervisor must outlive any one bad tick
                log.exception("supervisor tick failed")

    # --- reporting and stopping -----------------------------------------------------------------------------
    def status(self) -> dict[str, dict]:
        with self._lock:
            return {name: c.status() for name, c in self.children.items()}

    def _write_state(self) -> None:
        state = {"pid": os.getpid(), "children": {
            n: {**c.status(), "history": c.history[-10:], "log": str(c.spec.log_path or "stderr")}
            for n, c in self.children.items()}}
        tmp = self.state_file.with_suffix(".tmp")
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.state_file)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every child (last started first), wait, then SIGKILL what is left."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            live = [c for c in reversed(list(self.children.values())) if c.proc and c.proc.poll() is None]
            for c in live:
                c.proc.terminate()
            deadline = time.monotonic() + timeout_s
            for c in live:
                try:
                    c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    c.proc.kill()
                    c.proc.wait(timeout=5)
            for c in self.children.values():
                c.state = "down"
        self.state_file.unlink(missing_ok=True)
