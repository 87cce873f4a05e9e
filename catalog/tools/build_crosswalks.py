"""Regenerate the published and derived crosswalk CSVs from the copies in catalog/data/sources.

Run: python -m catalog.tools.build_crosswalks
Writes catalog/data/crosswalks/airmf_to_iso42001.nist.csv and csf2_to_iso42001-clauses.derived.csv.
Project-authored edges (*.project.csv) are edited by hand and reviewed like code.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
HEADER = ["from_framework", "from_id", "to_framework", "to_id", "relationship", "provenance", "rationale"]
AIRC = ("NIST AIRC, NIST AI RMF to ISO/IEC FDIS 42001 Crosswalk "
        "(https://airc.nist.gov/docs/NIST_AI_RMF_to_ISO_IEC_42001_Crosswalk.pdf)")
REFTOOL = "NIST CSF 2.0 Reference Tool informative references to ISO/IEC 27001:2022"
# ISO/IEC 27001:2022 grouping clauses that NIST cites, read as the 42001 leaf that carries their general text.
GROUP_TO_LEAF = {"6.1": "6.1.1", "9.2": "9.2.1", "9.3": "9.3.1"}


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(rows)


def build_airmf() -> list[list[str]]:
    """NIST's published AI RMF -> ISO 42001 pairs, kept as published (relationship `related`)."""
    rows = []
    for r in csv.DictReader(open(DATA / "sources" / "nist-ai-rmf-1.0_to_iso-iec-42001-2023.csv")):
        note = r["notes"] or "listed together in NIST's published crosswalk (no relationship type given)"
        rows.append([r["from_framework"], r["from_id"], r["to_framework"], r["to_id"], "related", AIRC, note])
    return rows


def build_csf_clauses() -> list[list[str]]:
    """CSF 2.0 -> ISO 42001 clauses 4-10 through NIST's CSF -> ISO 27001 clause references.

    ISO/IEC 42001 and 27001 share the harmonized management-system structure (same clause numbers and
    topics for 4-10, with "AI" in place of "information security"), so a CSF subcategory NIST relates to a
    27001 clause is related to the same 42001 clause.
    """
    iso = json.load(open(DATA / "iso-iec-42001-2023.json"))
    leaves = {i["id"] for i in iso["items"] if i.get("requirement") and not i["id"].startswith("A.")}
    seen, rows = set(), []
    for r in csv.DictReader(open(DATA / "sources" / "nist-csf-2.0_to_iso-iec-27001-2022.csv")):
        src = r["to_id"]
        if src.startswith("A."):
            continue
        target = GROUP_TO_LEAF.get(src, src)
        if target not in leaves or (r["from_id"], target) in seen:
            continue
        seen.add((r["from_id"], target))
        how = f"NIST cites ISO/IEC 27001:2022 clause {src}"
        if target != src:
            how += f" (a grouping clause, read as its general subclause {target})"
        rows.append([
            "NIST-CSF-2.0", r["from_id"], "ISO-IEC-42001-2023", target, "related",
            f"derived: {REFTOOL} + harmonized management-system structure (ISO/IEC 27001:2022 clause {src} "
            f"-> ISO/IEC 42001:2023 clause {target})",
            f"{how}; ISO/IEC 42001 clause {target} has the same place and topic in the harmonized structure, "
            "applied to the AI management system.",
        ])
    return rows


def main() -> None:
    out = DATA / "crosswalks"
    _write(out / "airmf_to_iso42001.nist.csv", build_airmf())
    _write(out / "csf2_to_iso42001-clauses.derived.csv", build_csf_clauses())


if __name__ == "__main__":
    main()
