"""Benchmark: suggestion latency per document (ingest excluded), p50/p95, without an LLM.

Usage: .venv/bin/python -m bench.suggest [--docs 24] [--repeat 3] [--json out.json]
Ingests a generated corpus first (untimed), then times the real service call per document — read chunks from
SQL and vectors from Chroma, score against the catalog, calibrate, write the suggestion run — on warm caches.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import harness

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def main(argv: list[str] | None = None) -> dict:
    ap = harness.parser(__doc__)
    ap.add_argument("--docs", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from bench.harness import machine
    from classifiers.suggest import suggest_document
    from core.db import upgrade
    from core.models import DEFAULT_TENANT_ID
    from core.runtime import Runtime
    from core.settings import Settings
    from eval.corpus import generate
    from ingest.intake import ingest_local_file
    from ingest.partition import warm_up
    from worker.flows import get_classifier
    from worker.jobs import run_ingest_jobs

    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        tmp = Path(tmp)
        settings = Settings(env="test", data_dir=tmp / "data")
        settings.ensure_dirs()
        upgrade(settings.resolved_database_url)
        rt = Runtime(settings)
        warm_up()
        files = generate(tmp / "corpus", n_docs=args.docs)
        regs = [ingest_local_file(p, db=rt.db, blobs=rt.blobs, tenant_id=DEFAULT_TENANT_ID,
                                  max_bytes=settings.max_upload_bytes) for p, _ in files]
        run_ingest_jobs(rt, [(r.document.id, r.job.id) for r in regs])
        clf = get_classifier(settings)
        docs = [(r.document.id, p.name) for r, (p, _) in zip(regs, files)]
        suggest_document(db=rt.db, vectors=rt.vectors, classifier=clf, tenant_id=DEFAULT_TENANT_ID,
                         document_id=docs[0][0])  # warm
        times, classify_only = [], []
        for _ in range(args.repeat):
            for doc_id, _name in docs:
                t = time.perf_counter()
                out = suggest_document(db=rt.db, vectors=rt.vectors, classifier=clf, tenant_id=DEFAULT_TENANT_ID,
                                       document_id=doc_id)
                times.append(time.perf_counter() - t)
                classify_only.append(out["seconds"])
        from ingest import service

        chunks = [service.get_document(db=rt.db, tenant_id=DEFAULT_TENANT_ID, document_id=d)["chunk_count"]
                  for d, _ in docs]

    ms = np.array(times) * 1000
    cms = np.array(classify_only) * 1000
    result = {"benchmark": "suggest", "machine": machine(), "docs": len(docs), "repeat": args.repeat,
              "chunks_per_doc": {"min": int(min(chunks)), "max": int(max(chunks)),
                                 "mean": round(float(np.mean(chunks)), 1)},
              "suggest_ms": {**harness.percentiles(ms, 50, 95), "max": round(float(ms.max()), 2)},
              "classify_only_ms": harness.percentiles(cms, 50, 95),
              "llm": "off"}
    print(f"machine: {result['machine']}")
    print(f"{args.docs} documents x {args.repeat}, chunks per document {result['chunks_per_doc']}")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'suggest (read, score, store)':28}{result['suggest_ms']['p50']:>10}{result['suggest_ms']['p95']:>10}")
    print(f"{'classify only':28}{result['classify_only_ms']['p50']:>10}{result['classify_only_ms']['p95']:>10}")
    harness.finish(result, args.json)
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["suggest_ms"]["p95"] <= 250 else 1)
