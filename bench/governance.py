"""Benchmark: the governance layer on a large workspace — coverage with freshness, the SoA export, an owner's
listing and ledger verify, with thousands of confirmed mappings and governance events.

Usage: .venv/bin/python -m bench.governance [--documents 400] [--mappings 4000] [--actions 300] [--json out.json]
Builds a temporary SQLite workspace: documents with evidence dates spread over two years, confirmed mappings on
ISO 42001 / CSF 2.0 controls (each a ledger row), owners on every Annex A control, corrective actions moved
through their states (each transition a governance event). Then times each read a user makes (median of 5).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import harness


def _timed(fn, n: int = 5) -> tuple[float, object]:
    out, times = None, []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1), out


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--documents", type=int, default=400)
    ap.add_argument("--mappings", type=int, default=4000)
    ap.add_argument("--actions", type=int, default=300)
    args = ap.parse_args()

    from catalog import load_catalog
    from core.auth import Principal
    from core.db import Database, upgrade
    from core.models import DEFAULT_TENANT_ID, Document, Role, Suggestion, new_id
    from review import governance, ledger, soa
    from review.coverage import coverage

    rng = random.Random(7)
    cat = load_catalog()
    iso = [c.id for c in cat.frameworks["ISO-IEC-42001-2023"].requirements()]
    csf = [c.id for c in cat.frameworks["NIST-CSF-2.0"].requirements()]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'gov.db'}"
        upgrade(url)
        db = Database(url)
        admin = Principal(key_id=new_id(), name="bench admin", role=Role.admin, tenant_id=DEFAULT_TENANT_ID)
        t0 = time.perf_counter()
        docs = []
        with db.session() as s:
            for i in range(args.documents):
                d = Document(id=new_id(), tenant_id=DEFAULT_TENANT_ID, sha256=f"{i:064x}", size_bytes=1,
                             filename=f"evidence-{i:04d}.md", detected_type="text/markdown", storage_key="k",
                             status="indexed", classification_run_id=f"run-{i}",
                             evidence_date=now - timedelta(days=rng.randint(0, 730)))
                s.add(d)
                docs.append(d)
        for i in range(args.mappings):
            fw, ids = ("ISO-IEC-42001-2023", iso) if i % 3 else ("NIST-CSF-2.0", csf)
            doc = docs[i % len(docs)]
            sg = Suggestion(id=new_id(), tenant_id=DEFAULT_TENANT_ID, document_id=doc.id,
                            run_id=doc.classification_run_id, framework=fw, control_id=rng.choice(ids), rank=1,
                            raw_score=0.8, confidence=0.8,
                            state="suggested", source="retrieval", quote=f"passage {i} of the evidence",
                            features={}, classifier_version="v", embedder_id="e", catalog_version="c", config_hash="h")
            with db.session() as s:
                s.add(sg)
            ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=sg, decision="confirm", actor="reviewer",
                          actor_key_id=None)
        for c in governance.annex_a(cat):
            governance.set_control_owner(db=db, catalog=cat, principal=admin, framework="ISO-IEC-42001-2023",
                                         control_id=c.id, owner=rng.choice(["AI Governance Lead", "Data Office",
                                                                            "Platform Team", "Risk"]))
        # actions on the controls that need one: gaps, else controls whose evidence expired
        states = {i["control_id"]: i["status"] for i in coverage(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID,
                                                                 framework="NIST-CSF-2.0")["items"]}
        todo = [(c, "gap") for c, st in states.items() if st in ("none", "suggested", "proposed")] + \
            [(c, "expired") for c, st in states.items() if st in ("expired", "expiring")]
        for i in range(args.actions if todo else 0):
            control, kind = todo[i % len(todo)]
            a = governance.open_action(db=db, catalog=cat, principal=admin, statement=f"{kind} {i}",
                                       controls=[{"framework": "NIST-CSF-2.0", "control_id": control}],
                                       source={"type": kind}, owner="Risk", due_date="2027-01-31")
            for to in ("in_progress", "resolved")[: i % 3]:
                governance.move_action(db=db, catalog=cat, principal=admin, action_id=a["id"], to=to)
        build_s = round(time.perf_counter() - t0, 1)
        figures = {}
        figures["coverage_iso_ms"], cov = _timed(lambda: coverage(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID,
                                                                  framework="ISO-IEC-42001-2023"))
        figures["coverage_csf_ms"], _ = _timed(lambda: coverage(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID,
                                                                framework="NIST-CSF-2.0"))
        figures["soa_xlsx_ms"], body = _timed(lambda: soa.export(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID,
                                                                  fmt="xlsx"), n=3)
        figures["soa_json_ms"], _ = _timed(lambda: soa.export(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID,
                                                               fmt="json"), n=3)
        figures["expiring_ms"], exp = _timed(lambda: governance.expiring(db=db, catalog=cat,
                                                                         tenant_id=DEFAULT_TENANT_ID))
        figures["owner_ms"], _ = _timed(lambda: governance.owner_items(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID,
                                                                       owner="Risk"))
        figures["ledger_verify_ms"], v = _timed(lambda: ledger.verify(db, DEFAULT_TENANT_ID), n=3)
        db.dispose()
    result = {"documents": args.documents, "mappings": args.mappings, "actions": args.actions,
              "governance_events": v.governance_rows, "ledger_rows": v.rows, "build_s": build_s,
              "soa_xlsx_bytes": len(body[0]), "expiring_controls": exp["count"],
              "iso_summary": cov["summary"], **figures}
    harness.finish(result, args.json)
    print(f"machine: {result['machine']}")
    print(f"{args.documents} documents, {args.mappings} confirmed mappings ({v.rows} ledger rows), "
          f"{v.governance_rows} governance events, built in {build_s} s")
    for k, val in figures.items():
        print(f"  {k:20} {val:>9} ms")


if __name__ == "__main__":
    main()
