"""The installed `clausewise` command prints catalog stats and one control."""

import json
import os
import subprocess
import sys
from pathlib import Path

from catalog import load_catalog

CLI = Path(sys.executable).with_name("clausewise")


def run(*args):
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CLAUSEWISE_ENV": "test"})


def test_catalog_stats_json_has_exactly_the_documented_shape():
    r = run("catalog", "stats", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == load_catalog().stats()
    assert list(out) == ["ISO-IEC-42001-2023", "NIST-CSF-2.0", "OWASP-NHI-TOP10-2025", "NIST-AI-RMF-1.0",
                         "crosswalk_edges"]
    assert out["ISO-IEC-42001-2023"] == {"annex_a_controls": 38, "requirements": 70}
    assert out["NIST-CSF-2.0"] == {"functions": 6, "categories": 22, "subcategories": 106}
    assert out["OWASP-NHI-TOP10-2025"] == {"risks": 10}
    assert out["NIST-AI-RMF-1.0"] == {"subcategories": 72}
    assert list(out["crosswalk_edges"]) == [
        "ISO-IEC-42001-2023->NIST-CSF-2.0", "OWASP-NHI-TOP10-2025->ISO-IEC-42001-2023",
        "OWASP-NHI-TOP10-2025->NIST-CSF-2.0", "NIST-AI-RMF-1.0->ISO-IEC-42001-2023"]
    assert all(v > 0 for v in out["crosswalk_edges"].values())


def test_catalog_show_prints_control_and_neighbours():
    r = run("catalog", "show", "A.6.2.8")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ISO-IEC-42001-2023 A.6.2.8")
    assert "NIST-CSF-2.0" in r.stdout and "neighbours (" in r.stdout


def test_catalog_show_unknown_id_exits_2():
    r = run("catalog", "show", "Z.9")
    assert r.returncode == 2 and "no control" in r.stderr
