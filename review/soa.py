"""Statement of Applicability exports (ISO/IEC 42001 6.1.3): XLSX, CSV, JSON and OSCAL.

One row per Annex A control: applicability, justification, implementation status, owner, confirmed evidence
(document, quoted passage, evidence date, reviewer) and the CSF 2.0 / NHI items the same evidence covers through
the crosswalk. Spreadsheet cells that a spreadsheet would read as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime

from catalog import Catalog
from core.db import Database
from core.models import Tenant
from review.exports import NS, OSCAL_VERSION, ledger_head, oscal_control_id, safe_cell
from review.governance import ISO, soa_rows

COLUMNS = [
    ("control_id", "Control", 10), ("title", "Title", 36), ("objective", "Objective", 10),
    ("applicable", "Applicable", 11), ("justification", "Justification", 40),
    ("implementation_status", "Implementation status", 22), ("status_source", "Status from", 12),
    ("coverage", "Evidence state", 16), ("owner", "Owner", 22), ("review_interval_days", "Review every (days)", 12),
    ("evidence_documents", "Evidence (documents)", 36), ("evidence_quotes", "Quoted passages", 60),
    ("evidence_dates", "Evidence dates", 26), ("reviewers", "Confirmed by", 22),
    ("also_covers_csf", "Also covers CSF 2.0", 24), ("also_covers_nhi", "Also covers OWASP NHI", 18),
    ("open_actions", "Open corrective actions", 24),
]


def flat(row: dict) -> dict:
    """A SoA row as flat cells: lists joined one per line."""
    ev = row["evidence"]
    return {
        **{k: row[k] for k in ("control_id", "title", "objective", "justification", "implementation_status",
                               "status_source", "coverage", "owner", "review_interval_days")},
        "applicable": "yes" if row["applicable"] else "no",
        "evidence_documents": "\n".join(e["filename"] for e in ev),
        "evidence_quotes": "\n".join(f"“{(e['quote'] or '')[:500]}”" for e in ev),
        "evidence_dates": "\n".join(f"{(e['evidence_date'] or '')[:10]} ({e['evidence_date_source']})" for e in ev),
        "reviewers": "\n".join(f"{e['reviewer']} {e['decided_at'][:10]}" for e in ev),
        "also_covers_csf": ", ".join(row["also_covers_csf"]),
        "also_covers_nhi": ", ".join(row["also_covers_nhi"]),
        "open_actions": ", ".join(row["open_actions"]),
    }


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([label for _, label, _ in COLUMNS])
    for r in rows:
        f = flat(r)
        w.writerow([safe_cell(f[k]) for k, _, _ in COLUMNS])
    return buf.getvalue()


def to_xlsx(rows: list[dict], *, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "Statement of Applicability"
    ws.append([label for _, label, _ in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r in rows:
        f = flat(r)
        ws.append([safe_cell(f[k]) for k, _, _ in COLUMNS])
    for i, (_, _, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if isinstance(cell.value, str):
                cell.data_type = "s"   # text, never a formula, whatever it starts with
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = ws.dimensions
    wb.properties.title = title
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_json(rows: list[dict], *, db: Database, tenant_id: str, catalog: Catalog) -> dict:
    return {"generated_at": datetime.now(UTC).isoformat(), "tenant_id": tenant_id, "framework": ISO,
            "catalog_version": catalog.version, "ledger_head": ledger_head(db, tenant_id), "count": len(rows),
            "controls": rows}


_UUID_NS = uuid.UUID("0d7f7a8e-7f43-4b55-a0f3-3a1ae3c2b9d1")
OSCAL_STATUS = {"implemented": "implemented", "partially_implemented": "partial", "planned": "planned",
                "not_applicable": "not-applicable"}


def to_oscal(rows: list[dict], *, db: Database, tenant_id: str, catalog: Catalog) -> dict:
    """An OSCAL 1.1.2 component definition: the workspace's AI management system as one component, one
    implemented requirement per Annex A control with its status, justification, owner and evidence as statements
    of implementation. (A full system security plan needs system characteristics Clausewise does not hold.)"""
    now = datetime.now(UTC)
    with db.session() as s:
        tenant = s.get(Tenant, tenant_id)
    head = ledger_head(db, tenant_id)

    def uid(*parts: str) -> str:
        return str(uuid.uuid5(_UUID_NS, "|".join((tenant_id, *parts))))

    reqs = []
    for r in rows:
        props = [{"name": "implementation-status", "ns": NS, "value": OSCAL_STATUS[r["implementation_status"]]},
                 {"name": "status-source", "ns": NS, "value": r["status_source"]},
                 {"name": "evidence-state", "ns": NS, "value": r["coverage"]}]
        if r["owner"]:
            props.append({"name": "owner", "ns": NS, "value": " ".join(r["owner"].split())})
        for cid in r["also_covers_csf"] + r["also_covers_nhi"]:
            props.append({"name": "also-covers", "ns": NS, "value": cid})
        if r["applicable"]:
            desc = (f"{r['control_id']} {r['title']}: {r['implementation_status'].replace('_', ' ')}"
                    f" ({r['status_source']}); {len(r['evidence'])} confirmed piece(s) of evidence.")
        else:
            desc = f"{r['control_id']} {r['title']}: excluded. Justification: {r['justification']}"
        req = {"uuid": uid("req", r["control_id"]), "control-id": oscal_control_id(ISO, r["control_id"]),
               "description": desc, "props": props}
        if r["evidence"]:
            req["statements"] = [{
                "statement-id": f"{oscal_control_id(ISO, r['control_id'])}_smt.{i}",
                "uuid": uid("smt", r["control_id"], e["decision_id"]),
                "description": (f"{e['filename']} ({(e['evidence_date'] or '')[:10]}, "
                                f"{e['evidence_date_source']}), confirmed by {e['reviewer']}: "
                                f"“{(e['quote'] or '')[:2000]}”"),
                "props": [{"name": "decision-id", "ns": NS, "value": e["decision_id"]}],
            } for i, e in enumerate(r["evidence"], start=1)]
        reqs.append(req)
    return {"component-definition": {
        "uuid": str(uuid.uuid4()),
        "metadata": {"title": f"Statement of Applicability: {tenant.name if tenant else tenant_id}",
                     "last-modified": now.isoformat(), "version": head["row_hash"][:12],
                     "oscal-version": OSCAL_VERSION,
                     "props": [{"name": "ledger-head-hash", "ns": NS, "value": head["row_hash"]},
                               {"name": "catalog-version", "ns": NS, "value": catalog.version}]},
        "components": [{
            "uuid": uid("component"), "type": "policy",
            "title": "AI management system (ISO/IEC 42001:2023)",
            "description": "The workspace's AI management system as recorded in Clausewise: the applicability, "
                           "implementation status and confirmed evidence of each Annex A control.",
            "control-implementations": [{
                "uuid": uid("ci"), "source": "#iso-iec-42001-2023-annex-a",
                "description": "Statement of Applicability, ISO/IEC 42001:2023 clause 6.1.3 d).",
                "implemented-requirements": reqs}],
        }],
    }}


def export(*, db: Database, catalog: Catalog, tenant_id: str, fmt: str) -> tuple[bytes, str, str]:
    """(body, media type, file name) of the SoA in one format: xlsx, csv, json or oscal."""
    rows = soa_rows(db=db, catalog=catalog, tenant_id=tenant_id)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    if fmt == "xlsx":
        return (to_xlsx(rows, title="Statement of Applicability"),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"soa-{stamp}.xlsx")
    if fmt == "csv":
        return to_csv(rows).encode("utf-8"), "text/csv; charset=utf-8", f"soa-{stamp}.csv"
    if fmt == "oscal":
        body = to_oscal(rows, db=db, tenant_id=tenant_id, catalog=catalog)
        return json.dumps(body, indent=2).encode(), "application/json", f"soa-{stamp}.oscal.json"
    body = to_json(rows, db=db, tenant_id=tenant_id, catalog=catalog)
    return json.dumps(body, indent=2).encode(), "application/json", f"soa-{stamp}.json"
