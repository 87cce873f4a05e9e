"""Run ingestion jobs in forked children that SIGKILL themselves at a chosen point (used by test_crash_safety).

    python tests/crash_child.py PLAN.json

PLAN: {"data_dir": ..., "jobs": [[document_id, job_id, kill_at], ...]}. Every vector write and every SQL commit
(before and after) is an event; a child kills itself with SIGKILL at event number `kill_at` (0: never). The parent
loads the modules once and forks per job, so each crash costs a fork, not an interpreter start. Prints one JSON
line per job: {"document_id", "kill_at", "signal", "events"}.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def child(settings, document_id: str, job_id: str, kill_at: int, out_fd: int) -> None:
    from sqlalchemy.orm import Session

    from core.runtime import Runtime
    from core.vectors import VectorStore
    from worker.jobs import run_ingest_job

    events: list[str] = []

    def hit(name: str) -> None:
        events.append(name)
        os.write(out_fd, (name + "\n").encode())
        if len(events) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    upsert, commit = VectorStore.upsert, Session.commit

    def upsert_then_maybe_die(self, *a, **kw):
        r = upsert(self, *a, **kw)
        hit("after_vector_write")
        return r

    def commit_around(self):
        hit("before_commit")
        r = commit(self)
        hit("after_commit")
        return r

    VectorStore.upsert, Session.commit = upsert_then_maybe_die, commit_around
    run_ingest_job(Runtime(settings), document_id, job_id)


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    from core.settings import Settings
    from ingest.partition import warm_up

    settings = Settings(env="test", data_dir=Path(plan["data_dir"]))
    warm_up()  # the NLP models, loaded once before forking; the embedding model loads in each child
    for document_id, job_id, kill_at in plan["jobs"]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                child(settings, document_id, job_id, kill_at, w)
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r) as fh:
            events = fh.read().split()
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"document_id": document_id, "kill_at": kill_at, "events": events,
                          "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0}), flush=True)


if __name__ == "__main__":
    main()
