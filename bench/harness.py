"""What every benchmark shares: its arguments, the machine it ran on, memory, percentiles and the JSON it writes."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
from pathlib import Path

import numpy as np

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def machine() -> dict:
    """The figures of the machine a result was measured on (printed and stored with it)."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "platform": platform.platform(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mib() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def percentiles(values: list[float], *qs: int, digits: int = 2) -> dict:
    a = np.asarray(values, dtype=float)
    return {f"p{q}": round(float(np.percentile(a, q)), digits) for q in qs}


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the benchmark's docstring, with the shared `--json OUT`."""
    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    ap.add_argument("--json", type=Path, help="also write the result as JSON here")
    return ap


def finish(result: dict, out: Path | None, *, indent: int = 2) -> dict:
    """Stamp the result with the machine and peak memory (unless it has them) and write it where asked."""
    result.setdefault("machine", machine())
    result.setdefault("peak_rss_mib", peak_rss_mib())
    if out:
        out.write_text(json.dumps(result, indent=indent, default=float) + "\n")
    return result
