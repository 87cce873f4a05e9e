"""Benchmark: end-to-end ingestion throughput against the pure-embedding limit, measured in the same run.

Usage: .venv/bin/python -m bench.ingest [--docs 24] [--pages 3] [--kinds K,...] [--no-nhi] [--json out.json]
Ingests a generated corpus (PDF, DOCX, Markdown, text) through the real path `clausewise ingest` takes — sniff,
store, sandboxed partition (running one document ahead), chunk, embed, Chroma upsert, SQL commit — then embeds the
very same chunk texts with the same model and batch size. Prints pages/s, chunks/s, peak RSS and the ratio
end-to-end / pure embedding. `--no-nhi` switches the NHI sighting extraction off (the records are split and
rendered as before), so two runs on the same corpus show what the inventory stage costs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bench import harness

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def main(argv: list[str] | None = None) -> dict:
    from eval.corpus import EXTRA_KINDS, KINDS

    ap = harness.parser(__doc__)
    ap.add_argument("--docs", type=int, default=24)
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--sequential", action="store_true", help="No partition lookahead")
    ap.add_argument("--no-nhi", action="store_true", help="Without NHI sighting extraction (to measure its cost)")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help=f"Comma-separated corpus kinds (default: all of {','.join(KINDS)}; "
                         f"also {','.join(EXTRA_KINDS)})")
    args = ap.parse_args(argv)
    if args.no_nhi:   # the sandbox forks: the children inherit these
        import ingest.partition as partition_module
        import ingest.records.dispatch as dispatch_module
        dispatch_module.EXTRACT_IDENTITIES = False
        partition_module.collect_identities = lambda blocks, extra=(): []
        partition_module.unsplit_identities = lambda text, media: []
        partition_module.identities_in_document = lambda blocks: []
        partition_module.identities_in_text = lambda text: []

    from sqlalchemy import select

    from core.db import upgrade
    from core.models import DEFAULT_TENANT_ID, Chunk, Document, Job
    from core.runtime import Runtime
    from core.settings import Settings
    from eval.corpus import generate
    from ingest.intake import ingest_local_file
    from ingest.partition import warm_up
    from ingest.pipeline import EMBED_BATCH
    from worker.jobs import run_ingest_jobs

    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        tmp = Path(tmp)
        files = generate(tmp / "corpus", n_docs=args.docs, pages_per_doc=args.pages,
                         kinds=tuple(args.kinds.split(",")))
        settings = Settings(env="test", data_dir=tmp / "data")
        settings.ensure_dirs()
        upgrade(settings.resolved_database_url)
        rt = Runtime(settings)
        warm_up()
        rt.embedder.embed(["warm up the model before timing"])
        rt.vectors.count(DEFAULT_TENANT_ID)

        t0 = time.perf_counter()
        stage = {"partition_s": 0.0, "embed_s": 0.0, "vectors_s": 0.0, "commit_s": 0.0}
        regs = [ingest_local_file(path, db=rt.db, blobs=rt.blobs, tenant_id=DEFAULT_TENANT_ID,
                                  max_bytes=settings.max_upload_bytes) for path, _ in files]
        statuses = run_ingest_jobs(rt, [(r.document.id, r.job.id) for r in regs], lookahead=not args.sequential)
        e2e_s = time.perf_counter() - t0
        per_kind: dict[str, dict] = {}
        with rt.db.session() as s:
            texts = [c.text for c in s.scalars(select(Chunk).order_by(Chunk.document_id, Chunk.idx))]
            for job, doc in s.execute(select(Job, Document).join(Document, Document.id == Job.document_id)):
                row = per_kind.setdefault(doc.kind or "?", {"docs": 0, "chunks": 0, "partition_cpu_s": 0.0,
                                                             "embed_s": 0.0})
                row["docs"] += 1
                row["chunks"] += doc.chunk_count
                for k in stage:
                    stage[k] += (job.timings or {}).get(k, 0.0)
                for k in ("partition_cpu_s", "embed_s"):
                    row[k] = round(row[k] + (job.timings or {}).get(k, 0.0), 3)

        # Pure embedding of the same chunks, same model, same batching as the pipeline.
        t1 = time.perf_counter()
        for i in range(0, len(texts), EMBED_BATCH):
            rt.embedder.embed(texts[i:i + EMBED_BATCH])
        embed_s = time.perf_counter() - t1

    pages = sum(p for _, p in files)
    result = {
        "benchmark": "ingest", "nhi_extraction": not args.no_nhi,
        "machine": harness.machine(), "docs": len(files), "pages": pages, "chunks": len(texts),
        "indexed": statuses.count("indexed"),
        "end_to_end": {"seconds": round(e2e_s, 2), "pages_per_s": round(pages / e2e_s, 2),
                       "chunks_per_s": round(len(texts) / e2e_s, 2)},
        "pure_embedding": {"seconds": round(embed_s, 2), "chunks_per_s": round(len(texts) / embed_s, 2)},
        "ratio_end_to_end_over_embedding": round((len(texts) / e2e_s) / (len(texts) / embed_s), 3),
        "stage_seconds": {k: round(v, 2) for k, v in stage.items()},
        "per_kind": per_kind,
        "peak_rss_mib": harness.peak_rss_mib(),
    }
    print(f"machine: {result['machine']}")
    print(f"{'':24}{'seconds':>10}{'pages/s':>10}{'chunks/s':>10}")
    print(f"{'end to end':24}{e2e_s:10.2f}{pages / e2e_s:10.2f}{len(texts) / e2e_s:10.2f}")
    print(f"{'pure embedding':24}{embed_s:10.2f}{'':>10}{len(texts) / embed_s:10.2f}")
    print(f"docs {len(files)} ({result['indexed']} indexed), pages {pages}, chunks {len(texts)}; "
          f"stages {result['stage_seconds']}")
    print(f"{'kind':16}{'docs':>6}{'chunks':>8}{'partition cpu s':>17}{'embed s':>9}{'cpu/embed':>11}")
    for kind, row in sorted(per_kind.items()):
        ratio = row["partition_cpu_s"] / row["embed_s"] if row["embed_s"] else float("nan")
        print(f"{kind:16}{row['docs']:>6}{row['chunks']:>8}{row['partition_cpu_s']:>17.2f}{row['embed_s']:>9.2f}"
              f"{ratio:>11.2f}")
    print(f"ratio end-to-end / pure embedding: {result['ratio_end_to_end_over_embedding']:.3f}   "
          f"peak RSS {result['peak_rss_mib']} MiB")
    harness.finish(result, args.json)
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["indexed"] else 1)
