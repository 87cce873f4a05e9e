"""Exports of confirmed mappings for auditors (CSV, JSON, OSCAL assessment results) and of decisions as labels."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import select

from catalog import Catalog
from core.db import Database
from core.models import Chunk, Document, Suggestion, Tenant
from review import ledger
from review.decisions import CONFIRMED, iso, latest_decisions
from review.models import Decision

CSV_COLUMNS = ["framework", "control_id", "control_title", "document_id", "filename", "sha256", "quote",
               "char_start", "char_end", "page", "record", "line_start", "line_end", "evidence_date",
               "evidence_start", "evidence_end", "decision", "decided_by", "decided_at", "comment", "decision_id",
               "row_hash", "suggestion_id", "source", "confidence", "classifier_version", "catalog_version",
               "control_owner", "document_owner"]
OSCAL_VERSION = "1.1.2"
NS = "https://github.com/clausewise/clausewise/ns/oscal"
_UUID_NS = uuid.UUID("6f1c1d4e-3d1a-4c65-9d7e-6c1b0c0a4201")
FRAMEWORK_PREFIX = {"ISO-IEC-42001-2023": "iso42001", "NIST-CSF-2.0": "csf2", "OWASP-NHI-TOP10-2025": "nhi",
                    "NIST-AI-RMF-1.0": "airmf"}
# the evaluation-set label keys (eval/dataset.py), repeated here because classifiers never import eval
LABEL_KEYS = {"ISO-IEC-42001-2023": "iso42001", "NIST-CSF-2.0": "nist_csf_2", "OWASP-NHI-TOP10-2025": "nhi"}


def ledger_head(db: Database, tenant_id: str) -> dict:
    """The chain head an export is anchored to: an auditor holding it can tell later if rows went missing."""
    with db.session() as s:
        head = s.scalar(select(Decision).where(Decision.tenant_id == tenant_id).order_by(Decision.seq.desc()))
    return {"seq": head.seq if head else 0, "row_hash": head.row_hash if head else ledger.genesis_hash(tenant_id)}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(v):
    """A cell value a spreadsheet will not read as a formula: quoted evidence must stay text (OWASP CSV
    injection: a leading = + - @, tab or carriage return gets a leading apostrophe)."""
    return "'" + v if isinstance(v, str) and v[:1] in FORMULA_START else v


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: safe_cell(v) for k, v in r.items() if k in CSV_COLUMNS})
    return buf.getvalue()


def to_json(rows: list[dict], *, db: Database, tenant_id: str, catalog: Catalog) -> dict:
    return {"generated_at": datetime.now(UTC).isoformat(), "tenant_id": tenant_id,
            "catalog_version": catalog.version, "ledger_head": ledger_head(db, tenant_id), "count": len(rows),
            "mappings": rows}


def oscal_control_id(framework: str, control_id: str) -> str:
    """An OSCAL token (letters first, then letters, digits, '.', '-', '_'): ISO's '4.1' becomes 'iso42001-4.1'."""
    return f"{FRAMEWORK_PREFIX.get(framework, 'ctl')}-{re.sub(r'[^A-Za-z0-9._-]', '_', control_id)}".lower()


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_UUID_NS, "|".join(parts)))


def to_oscal(rows: list[dict], *, db: Database, tenant_id: str, catalog: Catalog,
             period_start: datetime | None = None, period_end: datetime | None = None) -> dict:
    """An OSCAL 1.1.2 assessment-results document: one observation per confirmed mapping (the quoted evidence,
    who confirmed it, when), one `satisfied` finding per control citing its observations."""
    now = datetime.now(UTC)
    with db.session() as s:
        tenant = s.get(Tenant, tenant_id)
    head = ledger_head(db, tenant_id)
    observations, by_control = [], defaultdict(list)
    for r in rows:
        obs_uuid = _uid("obs", r["suggestion_id"], r["decision_id"])
        props = [{"name": "framework", "ns": NS, "value": r["framework"]},
                 {"name": "control-id", "ns": NS, "value": r["control_id"]},
                 {"name": "decision", "ns": NS, "value": r["decision"]},
                 {"name": "decided-by", "ns": NS, "value": r["decided_by"] or "unknown"},
                 {"name": "ledger-row-hash", "ns": NS, "value": r["row_hash"]},
                 {"name": "classifier-version", "ns": NS, "value": r["classifier_version"]},
                 {"name": "document-sha256", "ns": NS, "value": r["sha256"]}]
        where = ", ".join(p for p in (f"page {r['page']}" if r["page"] else "",
                                      f"record {r['record']}" if r["record"] is not None else "",
                                      f"lines {r['line_start']}-{r['line_end']}" if r["line_start"] else "") if p)
        observations.append({
            "uuid": obs_uuid,
            "title": f"{r['control_id']} evidenced by {r['filename']}",
            "description": (r["quote"] or "(no quote)")[:4000],
            "props": props,
            "methods": ["EXAMINE"],
            "types": ["control-objective"],
            "relevant-evidence": [{"href": f"#document-{r['document_id']}",
                                   "description": f"{r['filename']} (sha256 {r['sha256']})"
                                                  f"{', ' + where if where else ''}"}],
            "collected": r["decided_at"] or now.isoformat(),
            **({"remarks": r["comment"]} if r.get("comment") else {}),
        })
        by_control[(r["framework"], r["control_id"], r["control_title"])].append(obs_uuid)
    findings = [{
        "uuid": _uid("finding", tenant_id, fw, cid),
        "title": f"{cid} {title or ''}".strip(),
        "description": f"{len(obs)} confirmed piece(s) of evidence for {fw} {cid}.",
        "props": [{"name": "framework", "ns": NS, "value": fw}, {"name": "control-id", "ns": NS, "value": cid}],
        "target": {"type": "objective-id", "target-id": oscal_control_id(fw, cid),
                   "status": {"state": "satisfied"}},
        "related-observations": [{"observation-uuid": u} for u in obs],
    } for (fw, cid, title), obs in sorted(by_control.items())]
    result = {
        "uuid": _uid("result", tenant_id, head["row_hash"]),
        "title": "Clausewise confirmed evidence mappings",
        "description": "Mappings of evidence to controls confirmed by reviewers; each observation quotes the "
                       "evidence and names the decision in the hash-chained ledger.",
        "start": (period_start or now).isoformat(),
        **({"end": period_end.isoformat()} if period_end else {}),
        "props": [{"name": "ledger-head-hash", "ns": NS, "value": head["row_hash"]},
                  {"name": "ledger-head-seq", "ns": NS, "value": str(head["seq"])},
                  {"name": "catalog-version", "ns": NS, "value": catalog.version}],
        "reviewed-controls": {"control-selections": [
            {"include-controls": [{"control-id": oscal_control_id(fw, cid)} for fw, cid, _ in sorted(by_control)]}
            if by_control else {"include-all": {}}]},
    }
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    return {"assessment-results": {
        "uuid": str(uuid.uuid4()),
        "metadata": {"title": f"Clausewise assessment results: {tenant.name if tenant else tenant_id}",
                     "last-modified": now.isoformat(), "version": head["row_hash"][:12],
                     "oscal-version": OSCAL_VERSION},
        "import-ap": {"href": f"#clausewise-assessment-plan-{tenant_id}"},
        "results": [result],
    }}


def export_labels(*, db: Database, tenant_id: str) -> list[dict]:
    """Reviewer decisions as an evaluation set (eval/dataset.py format): one item per decided document, its text,
    the confirmed controls as labels and every effective decision, rejects included."""
    with db.session() as s:
        latest = latest_decisions(s, tenant_id)
        by_doc: dict[str, list[Decision]] = defaultdict(list)
        for d in latest.values():
            by_doc[d.document_id].append(d)
        items = []
        for doc_id in sorted(by_doc):
            doc = s.get(Document, doc_id)
            chunks = s.scalars(select(Chunk.text).where(Chunk.document_id == doc_id).order_by(Chunk.idx)).all()
            labels = {k: [] for k in LABEL_KEYS.values()}
            decisions = []
            for d in sorted(by_doc[doc_id], key=lambda d: d.seq):
                key = LABEL_KEYS.get(d.framework)
                if key is None:
                    continue
                if d.decision in CONFIRMED and d.control_id not in labels[key]:
                    labels[key].append(d.control_id)
                decisions.append({"framework": key, "control_id": d.control_id,
                                  "decision": "confirm" if d.decision in CONFIRMED else "reject",
                                  "reason_code": d.reason_code})
            primary_sg = s.scalar(select(Suggestion).where(Suggestion.id.in_(
                [d.suggestion_id for d in by_doc[doc_id] if d.decision in CONFIRMED
                 and d.framework == "ISO-IEC-42001-2023"])).order_by(Suggestion.rank))
            items.append({"id": doc_id, "text": "\n\n".join(chunks), "source": f"clausewise:{tenant_id}/{doc_id}",
                          "doc_type": doc.kind or "", "labels": labels,
                          "primary": {"iso42001": primary_sg.control_id if primary_sg else None},
                          "label_provenance": "confirmed and rejected reviewer decisions (clausewise ledger)",
                          "evidence_date": iso(doc.evidence_date), "decisions": decisions})
    return items


def write_jsonl(items: list[dict], fh) -> None:
    for it in items:
        fh.write(json.dumps(it, ensure_ascii=False) + "\n")
