"""Benchmark the decisions ledger: appends per second (one and several writers) and `verify` time.

    .venv/bin/python -m bench.ledger [--decisions 5000] [--writers 4] [--database-url URL] [--json out.json]

Default database: a fresh SQLite file in a temporary directory. With --database-url (for example the PostgreSQL
test database) the schema is migrated there first; the benchmark writes into it, so use a scratch database.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import tempfile
import time
from pathlib import Path

from bench import harness


def _seed(db, tenant_id: str, n: int) -> list:
    from catalog.loader import ISO
    from core.models import Document, Suggestion, new_id

    doc = Document(id=new_id(), tenant_id=tenant_id, sha256=new_id().replace("-", "").ljust(64, "0"), size_bytes=1,
                   filename="bench.log", detected_type="text/plain", storage_key="k", status="indexed")
    sgs = [Suggestion(id=new_id(), tenant_id=tenant_id, document_id=doc.id, run_id="bench", framework=ISO,
                      control_id=f"A.{i % 38}", rank=1 + i % 10, raw_score=0.5, confidence=0.5, state="suggested",
                      source="retrieval", quote=f"evidence line {i}", features={}, classifier_version="bench",
                      embedder_id="e", catalog_version="c", config_hash="h") for i in range(n)]
    with db.session() as s:
        s.add(doc)
        s.flush()
        s.add_all(sgs)
    return sgs


def run(url: str, decisions: int, writers: int) -> dict:
    from core.auth import ensure_tenant
    from core.db import Database, upgrade
    from review import ledger

    upgrade(url)
    db = Database(url)
    try:
        out = {}
        for label, n_writers in (("one_writer", 1), (f"{writers}_writers", writers)):
            tenant = ensure_tenant(db, f"bench-{label.replace('_', '-')}-{int(time.time())}").id
            sgs = _seed(db, tenant, decisions)

            def one(i, tenant=tenant, sgs=sgs):
                ledger.append(db, tenant_id=tenant, suggestion=sgs[i], decision="confirm" if i % 3 else "reject",
                              actor="bench", actor_key_id=None, reason_code=None if i % 3 else "other")

            t = time.perf_counter()
            with cf.ThreadPoolExecutor(n_writers) as pool:
                list(pool.map(one, range(decisions)))
            append_s = time.perf_counter() - t
            t = time.perf_counter()
            v = ledger.verify(db, tenant)
            verify_s = time.perf_counter() - t
            assert v.ok and v.rows == decisions, v.public()
            out[label] = {"appends_per_s": round(decisions / append_s, 1), "verify_s": round(verify_s, 3),
                          "verify_rows_per_s": round(decisions / verify_s, 1)}
        return out
    finally:
        db.dispose()


def main(argv=None) -> dict:
    ap = harness.parser(__doc__)
    ap.add_argument("--decisions", type=int, default=5000)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        result = {"database": url.split("://")[0], "decisions": args.decisions,
                  "machine": harness.machine(),
                  "results": run(url, args.decisions, args.writers)}
    print(json.dumps(result, indent=1))
    harness.finish(result, args.json)
    return result


if __name__ == "__main__":
    main()
