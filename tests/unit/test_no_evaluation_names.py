"""No document-specific rule: the classifier's code and data never name what is in an evaluation set.

A rule that names a company, a person, a system or a file of a labelled set scores well on that set and nowhere
else. The names are each set's companies, systems, suppliers, platforms and some of its people (listed below from
reading the sets' READMEs and files) and every file's own name; the check covers the shipped code and data the
classifier, catalog and ingestion read at run time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT / "eval" / "datasets"
SETS = ("files", "files2", "files3")
SHIPPED = [ROOT / "classifiers", ROOT / "catalog", ROOT / "ingest", ROOT / "core"]
# Names that the READMEs do not mark but the sets' documents are full of (systems, suppliers, platforms, places).
KNOWN = {
    "files": ["Kestrel", "Kestrel Health Analytics", "Scribe", "Merlin", "Aerie", "Halcyon", "KHA"],
    "files2": ["Tidewater", "Tidewater Mutual", "Sentry", "Mara", "DocIntake", "Keel", "Lumora", "Parsewell",
               "Motorfacts", "Wheelhouse", "PolicyHub", "RiskPoint", "TM-AIC", "Triage Navigator", "Clodagh Brennan",
               "Greta Holm", "Hugo Martens"],
    "files3": ["Northgate", "Northgate Freight Systems", "RouteWise", "FlowCast", "DockEye", "Relay", "Lumenwright",
               "Priya Raghunathan", "Noor Haddad", "Fatima Siddiqui", "Raj Bhatt", "Ben Ostrowski"],
}


def _names(set_name: str) -> set[str]:
    found = set(KNOWN[set_name])
    for line in (DATASETS / set_name / "manifest.jsonl").read_text().splitlines():
        stem = Path(json.loads(line)["file"]).stem
        found.add(stem)   # a file's own name
    return found


def _shipped_files() -> list[Path]:
    return [p for root in SHIPPED for p in root.rglob("*")
            if p.is_file() and p.suffix in (".py", ".json", ".csv", ".md", ".yaml") and "__pycache__" not in p.parts]


@pytest.mark.parametrize("set_name", SETS)
def test_shipped_code_and_data_name_nothing_from_an_evaluation_set(set_name):
    names = _names(set_name)
    assert len(names) > 25, "the set's names were read"
    hits = []
    for path in _shipped_files():
        text = path.read_text(errors="replace")
        for name in names:
            if re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", text, re.IGNORECASE):
                hits.append(f"{path.relative_to(ROOT)}: {name}")
    assert not hits, hits


def test_the_check_finds_a_name_where_one_is_written(tmp_path):
    names = _names("files2")
    assert "Tidewater" in names and "Lumora" in names
    planted = "a prior for documents that mention Lumora"
    assert any(re.search(rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])", planted) for n in names)
