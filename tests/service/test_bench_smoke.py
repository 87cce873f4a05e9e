"""Every benchmark still runs end to end on a tiny input and writes its JSON with the machine's figures.

No timing is asserted here (figures come from full runs, README "Benchmarks"); this only keeps the entry points
from rotting — bench.upload had silently been refused with 401 since keys were introduced."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.needs_model, pytest.mark.slow]

CASES = {
    "ledger": ["--decisions", "20", "--writers", "2"],
    "governance": ["--documents", "10", "--mappings", "30", "--actions", "3"],
    "upload": ["--requests", "6", "--clients", "2"],
    "chroma": ["--sizes", "500", "--queries", "5"],
    "ingest": ["--docs", "2", "--pages", "1"],
    "suggest": ["--docs", "2", "--repeat", "1"],
    "ui": ["--chunks", "30", "--suggestions", "5", "--queue", "400", "--repeat", "1"],
    # the packaged local LLM judging one candidate of two dev items (needs_llm: it starts the llama.cpp server)
    "llm": ["--limit", "2", "--candidates", "1"],
    # `clausewise serve` broken while it works: 12 uploads, one worker kill, the Chroma server and the API restarted
    "soak": ["--uploads", "12", "--kills", "1", "--chaos-span", "20", "--settle", "400"],
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.needs_llm) if n == "llm" else n
                                  for n in sorted(CASES)])
def test_benchmark_runs_and_reports_its_machine(name, tmp_path):
    out = tmp_path / "result.json"
    env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(tmp_path / "data")}
    r = subprocess.run([sys.executable, "-m", f"bench.{name}", *CASES[name], "--json", str(out)], env=env,
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.exists(), r.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["machine"]["cpus"] >= 1 and result["machine"]["mem_gib"] > 0 and result["peak_rss_mib"] > 0
    if name == "upload":
        assert result["all_ok"] and not result["sample_failures"], result
    if name == "soak":
        assert result["all_ok"] and result["lost"] == 0 and result["worker_kills"] == 1, result
    if name != "suggest":  # suggest exits 1 when its p95 passes its bound; that is a figure, not a failure here
        assert r.returncode == 0, r.stderr[-3000:]
