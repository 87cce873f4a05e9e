"""ServiceNow list exports as CSV (change requests, requested items, incidents, ...): one record per row."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.nhi import rules as R
from ingest.nhi.model import Sighting
from ingest.nhi.text import scan

from ..base import Block, Container, CsvTable, Example, RecordFormat, RecordKind
from ..timestamps import parse_leading_ts, span

_SN_NUMBER_RE = re.compile(r"^(?:CHG|RITM|INC|REQ|SCTASK|PRB|PTASK|CTASK|TASK|KB|STRY|CS|SIR|VUL|VIT|RISK|"
                           r"AUD|STSK|WO|WOT|DMND|ENHC|IMS)\d{4,}$")
_SN_DATE_COL_RE = re.compile(r"(?:^|_)(?:opened|closed|resolved|created|updated|start|end|date|on|at|time|"
                             r"approved|completed|planned)(?:$|_)")
_SN_META_COLS = ("state", "stage", "approval", "priority", "type", "risk", "assignment_group")


def _norm_col(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class _Columns:
    """Where the interesting columns of a recognised export are."""
    header: list[str]
    norm: list[str]                # normalised column names ("Opened at" -> "opened_at")
    num_col: int | None            # the record number ("CHG0031877")
    sys_id_col: int | None
    date_cols: list[int]


def detect(table: CsvTable) -> _Columns | None:
    """A ServiceNow export has sys_* columns or a number column whose values mostly look like CHG0001234."""
    header, rows = table.header, table.rows
    norm = [_norm_col(h) for h in header]
    num_col = next((i for i, n in enumerate(norm) if n in ("number", "task_number", "ticket_number")), None)
    has_sys = any(n.startswith("sys_") for n in norm)
    matched = 0
    if num_col is not None:
        matched = sum(1 for _, _, r in rows if num_col < len(r) and _SN_NUMBER_RE.match(r[num_col].strip()))
    if not (has_sys or (num_col is not None and matched * 2 >= len(rows) and matched > 0)):
        return None
    date_cols = [i for i, n in enumerate(norm)
                 if _SN_DATE_COL_RE.search(n) and not re.search(r"due|expir|valid_to|retire", n)]
    sys_id_col = next((i for i, n in enumerate(norm) if n == "sys_id"), None)
    return _Columns(header, norm, num_col, sys_id_col, date_cols)


def render(row: list[str], cols: _Columns) -> Block:
    header, norm, num_col = cols.header, cols.norm, cols.num_col
    cells = list(row) + [""] * (len(header) - len(row))
    names = header + [f"column_{i + 1}" for i in range(len(header), len(cells))]
    out = []
    for name, value in zip(names, cells, strict=True):
        v = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        if v:
            v = "\n".join(ln.rstrip() for ln in v.split("\n"))
            out.append(f"{name}: {v}")
    stamps = [parse_leading_ts(cells[i]) for i in cols.date_cols if i < len(cells) and cells[i].strip()]
    ts_start, ts_end = span(stamps)
    section = None
    if num_col is not None and cells[num_col].strip():
        section = cells[num_col].strip()
    elif cols.sys_id_col is not None and cells[cols.sys_id_col].strip():
        section = cells[cols.sys_id_col].strip()
    meta = {}
    for i, n in enumerate(norm):
        if n in _SN_META_COLS and i < len(cells) and cells[i].strip() and len(cells[i]) <= 80:
            meta[n] = cells[i].strip()
    return Block(text="\n".join(out), kind="record", ts_start=ts_start, ts_end=ts_end, section=section,
                 meta=meta)


_EXAMPLE = (
    "number,short_description,state,risk,opened_at,start_date,end_date,close_notes\n"
    "CHG0031877,Promote triage-model 3.3.0 to production,Closed,Moderate,2026-02-02 09:15:00,"
    "2026-02-10 (retrospective ECAB),2026-02-10 18:00:00,\"Deployed.\nPost-implementation review done.\"\n"
    "CHG0031902,Rotate transcription SP secret,Implement,Low,2026-02-11 08:00:00,2026-02-12 07:00:00,,\n"
)


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

# Channels through which software, not a person, opens a record: its caller is an integration account.
_AUTOMATED_CONTACT = re.compile(r"^(?:monitoring|integration|event(?:\s+management)?|alerts?|api|web\s*services?|"
                                r"web\s*form|automated|automation|system|self[- ]service\s+api)$", re.I)
_CALLER_COLS = ("caller_id", "caller", "opened_by", "requested_by")


def identities(row: list[str], cols: _Columns) -> list[Sighting]:
    """Structural identity mentions in the row's cells (`at` = the record's earliest date, filled in later), and
    the caller of a record opened through an automated channel (contact type Monitoring, Integration, Web form,
    ...) or whose name is an integration's. Names given with their kind in the text are read from the rendered
    record (prose)."""
    number = row[cols.num_col].strip() if cols.num_col is not None and cols.num_col < len(row) else ""
    action = f"mentioned in {number}" if number else "mentioned in a ServiceNow record"
    found = scan("\n".join(row), actor=False, action=action)
    cell = {n: row[i].strip() for i, n in enumerate(cols.norm) if i < len(row)}
    automated = bool(_AUTOMATED_CONTACT.match(cell.get("contact_type", "")))
    for col in _CALLER_COLS:
        caller = cell.get(col, "")
        if caller and len(caller) <= 80 and (automated or R.integration_name(caller)):
            found.append(Sighting(caller, "api_client", "app", action=f"{col} of {number or 'a ServiceNow record'}"
                                  + (f" (contact type {cell['contact_type']})" if automated else "")))
            break
    return found


FORMAT = RecordFormat(
    name="servicenow", kind=RecordKind.SERVICENOW, container=Container.CSV,
    detect=detect, render=render, identities=identities, prose=True,
    example=Example("text/csv", _EXAMPLE))
