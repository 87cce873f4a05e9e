"""Application logs: lines starting with an ISO timestamp (optionally in brackets), a level and a
[component]; continuation lines (stack traces, wrapped messages) join the event above."""

from __future__ import annotations

import re

from ..base import Block, Container, Example, LogEvent, RecordFormat, RecordKind
from ..logline import LEVEL_RE, iso_prefix

_COMPONENT_RE = re.compile(r"\[([A-Za-z][\w.:/-]{0,40})\]")


def detect(line: str) -> dict | None:
    """Level and component of a line that starts an application log event, or None."""
    iso = iso_prefix(line)
    if iso is None:
        return None
    ts, rest = iso
    lm = LEVEL_RE.search(rest[:40])
    cm = _COMPONENT_RE.search(rest[:160])
    return {"ts": ts, "level": lm.group(1) if lm else None, "component": cm.group(1) if cm else None}


def render(text: str, event: LogEvent) -> Block:
    info = event.info
    meta = {"level": info["level"]} if info.get("level") else {}
    return Block(text=text, kind="event", ts_start=event.ts, ts_end=event.ts,
                 section=info.get("component") or info.get("level"), meta=meta)


_EXAMPLE = (
    "2026-02-10T06:00:00.000Z INFO notes-summariser-api [serving] model=notes-summariser-4.2 loaded\n"
    "2026-02-10T06:00:04.512Z ERROR notes-summariser-api [perch-client] upstream call failed\n"
    "Traceback (most recent call last):\n"
    '  File "perch.py", line 88, in call\n'
    "TimeoutError: read timed out\n"
    "\n"
    "2026-02-10 06:00:05,250 WARN notes-summariser-api [guardrail] anticoagulant dose flagged for review\n"
)

FORMAT = RecordFormat(
    name="app_log", kind=RecordKind.APP_LOG, container=Container.LOG_LINES,
    detect=detect, render=render,
    example=Example("text/plain", _EXAMPLE))
