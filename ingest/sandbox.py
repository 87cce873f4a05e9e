"""Run a parser in a forked child under a wall-clock and address-space limit.

A hostile or broken file can make a parser spin or balloon; the child takes the hit, the worker lives on.
Results come back as JSON over a pipe (no pickle).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import select
import signal
import time
from collections.abc import Callable

from core.errors import ClausewiseError, ErrorCode

log = logging.getLogger("clausewise.ingest")


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def run_limited(fn: Callable[[], object], *, timeout_s: float, memory_bytes: int,
                stats: dict | None = None) -> object:
    """Call fn() in a child; its JSON-safe return value comes back, or a ClausewiseError with a stable code.

    memory_bytes is the extra address space the child may map beyond what it inherits from this process;
    `stats`, when given, receives the child's CPU seconds and peak RSS.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            # A collection would walk (and so copy-on-write) the whole inherited heap; the child is short-lived.
            gc.disable()
            # Lower priority: when this runs ahead of the embedder, the model keeps both cores and the
            # parser takes the time the model leaves idle.
            os.nice(10)
            os.close(read_fd)
            limit = _vm_bytes() + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                payload = {"ok": fn()}
            except ClausewiseError as e:
                payload = {"error": e.code.value, "detail": e.detail}
            except MemoryError:
                payload = {"error": ErrorCode.partition_memory.value,
                           "detail": f"parsing needed more than {memory_bytes // 2**20} MiB"}
            except Exception as e:  # noqa: BLE001 - any parser failure is a property of the file
                # ...as far as the worker can tell; the exception is named so that a parser bug shows (logs, tests)
                payload = {"error": ErrorCode.corrupt_file.value, "detail": f"{type(e).__name__}: {e}"[:500],
                           "exception": type(e).__name__}
            data = json.dumps(payload).encode()
            with os.fdopen(write_fd, "wb") as w:
                w.write(data)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + timeout_s
    try:
        with os.fdopen(read_fd, "rb") as r:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    os.kill(pid, signal.SIGKILL)
                    raise ClausewiseError(ErrorCode.partition_timeout,
                                          f"parsing took longer than {timeout_s:.0f} s and was stopped")
                ready, _, _ = select.select([r], [], [], min(left, 1.0))
                if ready:
                    chunk = os.read(r.fileno(), 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
    finally:
        _, status, usage = os.wait4(pid, 0)
        if stats is not None:
            stats["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 4)
            stats["max_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    if not chunks:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        if sig in (signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS) or os.WEXITSTATUS(status) != 0:
            raise ClausewiseError(ErrorCode.partition_memory,
                                  f"parser died (signal {sig}, status {status}); limit {memory_bytes // 2**20} MiB")
        raise ClausewiseError(ErrorCode.corrupt_file, "parser returned nothing")
    try:
        payload = json.loads(b"".join(chunks))
    except ValueError:
        raise ClausewiseError(ErrorCode.partition_memory, "parser output was cut short") from None
    if "error" in payload:
        if "exception" in payload:
            log.warning("parser raised %s (reported as %s): %s", payload["exception"], payload["error"],
                        payload["detail"])
            raise ClausewiseError(ErrorCode(payload["error"]), payload["detail"], exception=payload["exception"])
        raise ClausewiseError(ErrorCode(payload["error"]), payload["detail"])
    return payload["ok"]
