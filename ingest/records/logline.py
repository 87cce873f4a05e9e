"""Pieces of log-line recognition shared by the line-oriented formats (syslog, application logs)."""

from __future__ import annotations

import re
from datetime import datetime

from .timestamps import parse_ts

ISO_PREFIX_RE = re.compile(r"^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
                           r"(?:Z|z|[+-]\d{2}:?\d{2}|\s?UTC)?)\]?(?=\s|$)\s*(.*)$")
LEVEL_RE = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRIT|CRITICAL|FATAL|SEVERE|ALERT|"
                      r"EMERG)\b")


def iso_prefix(line: str) -> tuple[datetime, str] | None:
    """(timestamp, rest of the line) for a line that starts with an ISO timestamp, else None."""
    m = ISO_PREFIX_RE.match(line)
    if not m:
        return None
    ts = parse_ts(m.group(1).replace(" UTC", "Z").replace("UTC", "Z"))
    if ts is None:
        return None
    return ts, m.group(2)
