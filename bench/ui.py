"""Benchmark the web UI's server time: the review page of a 300-page document and the review queue page.

    .venv/bin/python -m bench.ui [--chunks 3000] [--suggestions 200] [--queue 20000] [--repeat 15] [--json out.json]

Seeds a fresh SQLite workspace directly (no model): one document of `--chunks` passages (10 per page) with a
classification run of `--suggestions` suggestions, and `--queue` undecided suggestions spread over 200 more
documents, each on a passage of its own (distinct words, so the queue collapses nothing). Then times
GET /ui/documents/{id} and GET /ui/queue in-process (the app, its session check, the service calls and the
template; no network), after one warm-up request each; p50/p95 over `--repeat`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

from bench import harness

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ISO_IDS = ["A.6.2.6", "A.6.2.8", "A.7.5", "A.8.4", "A.10.3", "9.3.3", "9.2.2", "10.2", "8.1", "6.1.3"]
WORDS = ("service account keys are rotated every thirty days and reviewed by the platform owner who records the "
         "result in the access review register together with evidence of removal of unused identities").split()


def _sentence(i: int, n: int = 40) -> str:
    return " ".join(WORDS[(i + k * 7) % len(WORDS)] for k in range(n)) + f" ({i})."


def seed(db, tenant_id: str, *, chunks: int, suggestions: int, queue: int) -> str:
    from catalog.loader import CSF, ISO
    from core.models import Chunk, Document, Suggestion, new_id

    def doc_row(name: str, run: str) -> Document:
        return Document(id=new_id(), tenant_id=tenant_id, sha256=new_id().replace("-", "").ljust(64, "0"),
                        size_bytes=1, filename=name, detected_type="application/pdf", storage_key="k",
                        status="indexed", chunk_count=0, classification_run_id=run, kind="pdf")

    def sugg(doc: Document, chunk: Chunk, i: int, run: str) -> Suggestion:
        fw = ISO if i % 2 else CSF
        cid = ISO_IDS[i % len(ISO_IDS)] if fw == ISO else ["PR.AA-01", "PR.AA-05", "DE.CM-09", "GV.OC-01"][i % 4]
        return Suggestion(id=new_id(), tenant_id=tenant_id, document_id=doc.id, run_id=run, framework=fw,
                          control_id=cid, rank=1 + i % 10, raw_score=0.5, confidence=(i % 97) / 97,
                          state="suggested" if i % 3 else "needs_review", source="retrieval", chunk_id=chunk.id,
                          quote=chunk.text, char_start=chunk.char_start, char_end=chunk.char_end, page=chunk.page,
                          features={}, classifier_version="bench", embedder_id="e", catalog_version="c",
                          config_hash="h")

    big_run = new_id()
    big = doc_row("annual-assurance-report.pdf", big_run)
    big.chunk_count, big.page_count = chunks, chunks // 10
    rows: list = [big]
    big_chunks = []
    pos = 0
    for i in range(chunks):
        text = _sentence(i)
        c = Chunk(id=new_id(), tenant_id=tenant_id, document_id=big.id, idx=i, text=text, char_start=pos,
                  char_end=pos + len(text), page=1 + i // 10, meta={})
        pos += len(text) + 1
        big_chunks.append(c)
    rows += big_chunks
    rows += [sugg(big, big_chunks[(i * 37) % chunks], i, big_run) for i in range(suggestions)]
    per_doc = max(queue // 200, 1)
    for d in range(200 if queue else 0):
        run = new_id()
        doc = doc_row(f"ticket-{d}.json", run)
        rows.append(doc)
        for k in range(per_doc):   # a passage of its own per suggestion: distinct words, nothing to collapse
            i = d * per_doc + k
            text = " ".join(f"w{(i * 31 + j * 17) % 50_000}" for j in range(40))
            c = Chunk(id=new_id(), tenant_id=tenant_id, document_id=doc.id, idx=k, text=text, char_start=0,
                      char_end=len(text), meta={})
            rows += [c, sugg(doc, c, i, run)]
    with db.session() as s:
        for r in rows:   # parents before children (documents, then chunks, then suggestions)
            s.add(r)
            if isinstance(r, Document):
                s.flush()
    return big.id


def run(chunks: int, suggestions: int, queue: int, repeat: int) -> dict:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.auth import authenticate, create_key
    from core.db import Database, upgrade
    from core.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="development", data_dir=Path(tmp) / "data", task_always_eager=True)
        settings.ensure_dirs()
        upgrade(settings.resolved_database_url)
        db = Database.from_settings(settings)
        key = create_key(db, tenant="default", role="reviewer", name="bench")[1]
        tenant_id = authenticate(db, key).tenant_id
        t = time.perf_counter()
        doc_id = seed(db, tenant_id, chunks=chunks, suggestions=suggestions, queue=queue)
        seed_s = time.perf_counter() - t
        db.dispose()
        out = {"seed_s": round(seed_s, 1)}
        with TestClient(create_app(settings), follow_redirects=False) as c:
            token = re.search(r'name="login_csrf" value="([^"]+)"', c.get("/ui/login").text).group(1)
            assert c.post("/ui/login", data={"api_key": key, "login_csrf": token}).status_code == 303
            for name, path in (("review_page", f"/ui/documents/{doc_id}"), ("queue_page", "/ui/queue")):
                first = c.get(path)
                assert first.status_code == 200, first.text[:300]
                times = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    r = c.get(path)
                    times.append(1000 * (time.perf_counter() - t))
                    assert r.status_code == 200
                out[name] = {"bytes": len(first.content), **harness.percentiles(times, 50, 95)}
        return out


def main(argv=None) -> dict:
    ap = harness.parser(__doc__)
    ap.add_argument("--chunks", type=int, default=3000)
    ap.add_argument("--suggestions", type=int, default=200)
    ap.add_argument("--queue", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    result = {"chunks": args.chunks, "suggestions": args.suggestions, "queue_suggestions": args.queue,
              "machine": harness.machine(), "ms": run(args.chunks, args.suggestions, args.queue, args.repeat)}
    print(json.dumps(result, indent=1))
    harness.finish(result, args.json)
    return result


if __name__ == "__main__":
    main()
