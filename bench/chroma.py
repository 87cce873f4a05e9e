"""Benchmark: embedded Chroma insert throughput and query latency as the collection grows to 10^4, 10^5, 10^6 chunks.

Usage: .venv/bin/python -m bench.chroma [--sizes 10000,100000,1000000] [--queries 200] [--json out.json]
Uses the project's own VectorStore (embedded PersistentClient in a temp dir, one cosine HNSW collection per tenant)
and always passes our vectors: seeded random unit-norm float32 384-d vectors with chunk-like metadata, 50 chunks per
document. Grows one collection to each size in turn, upserting in batches, and at each size times the growth step
(vectors/s), k=10 queries (p50/p95/p99, after warm-up) and k=10 queries filtered to one document_id (p50/p95).
Recall@10 of the unfiltered queries against exact numpy search is reported alongside. Random vectors have no
cluster structure, which is the hard case for HNSW; real chunk embeddings are easier. Prints peak RSS.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import harness

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

CHUNKS_PER_DOC = 50
KINDS = ("text", "text", "text", "record", "event")  # mostly prose, some records and log events
WARM_UP = 5


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def metadata(tenant_id: str, i: int) -> dict:
    return {"tenant_id": tenant_id, "document_id": f"doc-{i // CHUNKS_PER_DOC}", "idx": i % CHUNKS_PER_DOC,
            "kind": KINDS[i % len(KINDS)]}


def dir_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def main(argv: list[str] | None = None) -> dict:
    ap = harness.parser(__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="Comma-separated collection sizes, ascending (default: 10000,100000,1000000)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--batch", type=int, default=5000, help="Vectors per upsert call")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes != sorted(sizes) or len(set(sizes)) != len(sizes) or sizes[0] <= 0:
        ap.error("--sizes must be distinct, positive and ascending")

    from tqdm import tqdm

    from bench.harness import machine, peak_rss_mib, rss_mib
    from core.embedder import DIMENSION
    from core.models import DEFAULT_TENANT_ID
    from core.vectors import VectorStore

    rng = np.random.default_rng(args.seed)
    tenant = DEFAULT_TENANT_ID
    all_vecs = np.empty((sizes[-1], DIMENSION), dtype=np.float32)  # kept for exact-search recall
    rows: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-chroma-"))
    try:
        vs = VectorStore(str(tmp / "chroma"))
        have = 0
        for size in sizes:
            t0 = time.perf_counter()
            with tqdm(total=size, initial=have, desc=f"insert to {size:,}", unit="vec", file=sys.stderr,
                      smoothing=0.1) as bar:
                while have < size:
                    n = min(args.batch, size - have)
                    vecs = unit_vectors(rng, n, DIMENSION)
                    all_vecs[have:have + n] = vecs
                    ids = [f"chunk-{i:07d}" for i in range(have, have + n)]
                    vs.upsert(tenant, ids, vecs, [metadata(tenant, i) for i in range(have, have + n)])
                    have += n
                    bar.update(n)
            insert_s = time.perf_counter() - t0
            step = size - (rows[-1]["size"] if rows else 0)
            count = vs.count(tenant)

            queries = unit_vectors(rng, args.queries + WARM_UP, DIMENSION)
            for q in queries[:WARM_UP]:
                vs.query(tenant, q, k=args.k)
            times, got_ids = [], []
            for q in queries[WARM_UP:]:
                t = time.perf_counter()
                hits = vs.query(tenant, q, k=args.k)
                times.append((time.perf_counter() - t) * 1000)
                got_ids.append({h["id"] for h in hits})

            # Exact top-k by dot product (vectors are unit-norm, so this is cosine).
            recalls = []
            qs = queries[WARM_UP:]
            for i in range(0, len(qs), 50):
                sims = qs[i:i + 50] @ all_vecs[:size].T
                top = np.argpartition(-sims, args.k, axis=1)[:, :args.k]
                for j, row in enumerate(top):
                    exact = {f"chunk-{x:07d}" for x in row}
                    recalls.append(len(exact & got_ids[i + j]) / args.k)
                del sims

            n_docs = (size + CHUNKS_PER_DOC - 1) // CHUNKS_PER_DOC
            doc_ids = rng.integers(0, n_docs, size=args.queries + WARM_UP)
            fqueries = unit_vectors(rng, args.queries + WARM_UP, DIMENSION)
            ftimes, fhits = [], []
            for j, (q, d) in enumerate(zip(fqueries, doc_ids)):
                t = time.perf_counter()
                hits = vs.query(tenant, q, k=args.k, where={"document_id": f"doc-{d}"})
                if j >= WARM_UP:
                    ftimes.append((time.perf_counter() - t) * 1000)
                    fhits.append(len(hits))
                    assert all(h["metadata"]["document_id"] == f"doc-{d}" for h in hits)

            row = {"size": size, "count": count, "insert_seconds": round(insert_s, 1),
                   "insert_vectors_per_s": round(step / insert_s, 1),
                   "query_ms": harness.percentiles(times, 50, 95, 99), "recall_at_k": round(float(np.mean(recalls)), 3),
                   "filtered_query_ms": harness.percentiles(ftimes, 50, 95),
                   "filtered_hits_mean": round(float(np.mean(fhits)), 1),
                   "rss_mib": rss_mib(), "disk_mib": dir_mib(tmp / "chroma")}
            rows.append(row)
            print(f"size {size:,}: {row}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    result = {"benchmark": "chroma", "machine": machine(), "dimension": DIMENSION, "k": args.k,
              "queries": args.queries, "batch": args.batch, "chunks_per_document": CHUNKS_PER_DOC,
              "vectors": "random unit-norm float32, seeded", "steps": rows, "peak_rss_mib": peak_rss_mib()}
    print(f"machine: {result['machine']}")
    print(f"embedded Chroma, cosine HNSW, {DIMENSION}-d random unit vectors, k={args.k}, {args.queries} queries "
          f"per size, upsert batches of {args.batch}, {CHUNKS_PER_DOC} chunks per document_id")
    print(f"{'chunks':>10}{'insert vec/s':>14}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'recall@' + str(args.k):>11}"
          f"{'filt p50':>10}{'filt p95':>10}{'RSS MiB':>10}{'disk MiB':>10}")
    for r in rows:
        q, f = r["query_ms"], r["filtered_query_ms"]
        print(f"{r['size']:>10,}{r['insert_vectors_per_s']:>14,.0f}{q['p50']:>9.2f}{q['p95']:>9.2f}{q['p99']:>9.2f}"
              f"{r['recall_at_k']:>11.3f}{f['p50']:>10.2f}{f['p95']:>10.2f}{r['rss_mib']:>10,.0f}"
              f"{r['disk_mib']:>10,.0f}")
    print("insert vec/s is for the growth step to that size; filt = k=10 query with where={document_id}. "
          f"peak RSS {result['peak_rss_mib']} MiB")
    harness.finish(result, args.json)
    return result


if __name__ == "__main__":
    res = main()
    sys.exit(0 if all(r["count"] == r["size"] for r in res["steps"]) else 1)
