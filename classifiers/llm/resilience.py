"""What keeps the LLM step cheap and harmless when the model is slow, down or wrong.

Per-call timeouts are set on the clients (backends.py); here: which failures are retried (`should_retry`,
decided on exception types) and how long to back off, a circuit breaker shared by the process, the
per-document budget of calls and tokens, and a SQLite cache of verdicts keyed by (evidence hash, control,
prompt version, model).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .prompt import PROMPT_VERSION, Candidate, VerdictKind

log = logging.getLogger("clausewise.llm")


# --- retries ----------------------------------------------------------------------------------------------

@functools.cache
def timeout_types() -> tuple[type[BaseException], ...]:
    """Exception classes that mean a call timed out, from whichever client libraries are installed.

    The built-in TimeoutError (also socket.timeout and asyncio's); openai.APITimeoutError, which
    langchain-openai raises for every timeout (the openai client maps its transport's timeouts to it);
    httpx.TimeoutException (Connect/Read/Write/PoolTimeout), which the ollama client lets through; and the
    timeout base class of httpx2, the transport this openai client sends with, should one escape unwrapped.
    """
    types: list[type[BaseException]] = [TimeoutError]
    for module, name in (("openai", "APITimeoutError"), ("httpx", "TimeoutException"),
                         ("httpx2", "TimeoutException")):
        try:
            types.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, timeout_types())


def should_retry(exc: BaseException, attempt: int, retries: int) -> bool:
    """Retry a failed call while attempts remain, unless it timed out: a retry would wait as long again.

    Everything else is retried: connection errors (openai.APIConnectionError, httpx.TransportError, the
    ConnectionError the ollama client raises), server errors and answers that could not be parsed.
    """
    return attempt < retries and not is_timeout(exc)


def backoff_delay(backoff_s: float, attempt: int) -> float:
    """Seconds to wait before retry `attempt + 1`: exponential, with up to 20 % jitter."""
    return backoff_s * (2 ** attempt) * (1 + 0.2 * random.random())


# --- budget -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """Per-document limits; `spent` is the verifier's stats dict (its `calls` and `tokens`)."""

    max_calls: int
    max_tokens: int

    def allows_call(self, spent: dict, prompt_tokens: int, completion_tokens: int) -> bool:
        return (spent["calls"] < self.max_calls
                and spent["tokens"] + prompt_tokens + completion_tokens <= self.max_tokens)

    def allows_retry(self, spent: dict) -> bool:   # a retry is a call too
        return spent["calls"] < self.max_calls


# --- circuit breaker --------------------------------------------------------------------------------------

class CircuitBreaker:
    """Opens after `failures` consecutive failed calls; after `cooldown_s` one trial call may close it
    again."""

    def __init__(self, failures: int = 3, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.failures, self.cooldown_s, self.clock = failures, cooldown_s, clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self.opened = 0   # times it opened, for reports and tests

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self.clock() - self._opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                log.warning("LLM endpoint answers again; circuit closed")
            self._consecutive, self._opened_at = 0, None

    def failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            half_open = self._opened_at is not None
            if half_open or self._consecutive >= self.failures:
                if not half_open:
                    self.opened += 1
                    log.warning("LLM endpoint failed %d times in a row; circuit open for %.0f s, suggestions "
                                "are stored unverified meanwhile", self._consecutive, self.cooldown_s)
                self._opened_at = self.clock()


# --- verdict cache ----------------------------------------------------------------------------------------

class VerdictCache:
    """Verdicts by (evidence hash, framework, control, prompt version, model) in a SQLite file; re-runs cost
    nothing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as c:
            c.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT NOT NULL, "
                      "rationale TEXT NOT NULL, model TEXT NOT NULL, prompt_version TEXT NOT NULL, "
                      "created REAL)")

    def _connect(self) -> sqlite3.Connection:
        c = sqlite3.connect(self.path, timeout=10)
        c.execute("PRAGMA journal_mode=WAL")
        return c

    @staticmethod
    def key(c: Candidate, model_id: str, prompt_version: str = PROMPT_VERSION) -> str:
        return hashlib.sha256("|".join((c.evidence_sha256, c.framework, c.control_id, prompt_version,
                                        model_id)).encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, tuple[str, str]]:
        """key -> (verdict, rationale) for the keys that are cached."""
        if not keys:
            return {}
        with self._connect() as c:
            rows = c.execute("SELECT key, verdict, rationale FROM verdicts "
                             f"WHERE key IN ({','.join('?' * len(keys))})", keys).fetchall()
        return {k: (v, r) for k, v, r in rows}

    def put_many(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        """Rows of (key, verdict, rationale, model, prompt version); a verdict is stored as its plain
        string."""
        if rows:
            with self._connect() as c:
                c.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)",
                              [(k, VerdictKind(v).value, *rest, time.time()) for k, v, *rest in rows])
