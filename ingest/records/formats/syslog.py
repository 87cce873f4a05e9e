"""Syslog files (auth.log, secure, messages): RFC 3164 and RFC 5424 lines, and ISO-timestamped
`host program[pid]: message` lines (rsyslog high-precision format)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..base import Block, Container, Example, LogEvent, RecordFormat, RecordKind
from ..logline import LEVEL_RE, iso_prefix
from ..timestamps import parse_ts

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
_RFC3164_RE = re.compile(r"^(?:<\d{1,3}>)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+"
                         r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s+(\S+)\s+(\S.*)$")
_RFC5424_RE = re.compile(r"^<(\d{1,3})>1\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")
_ISO_SYSLOG_REST_RE = re.compile(r"^(\S+)\s+([\w./@-]+)(?:\[(\d+)\])?:\s")
_TAG_RE = re.compile(r"^([\w./@-]+)(?:\[(\d+)\])?:")


def detect(line: str) -> dict | None:
    """The parts of a syslog line that starts an event, or None."""
    m = _RFC3164_RE.match(line)
    if m:
        mon, day, hh, mi, ss, host, rest = m.groups()
        tag = _TAG_RE.match(rest)
        return {"md": (_MONTHS[mon], int(day), int(hh), int(mi), int(ss)), "host": host,
                "program": tag.group(1) if tag else None, "pid": tag.group(2) if tag else None}
    m = _RFC5424_RE.match(line)
    if m:
        _, ts, host, app, procid, _, _ = m.groups()
        return {"ts": parse_ts(ts) if ts != "-" else None,
                "host": None if host == "-" else host, "program": None if app == "-" else app,
                "pid": None if procid == "-" else procid}
    iso = iso_prefix(line)
    if iso:
        ts, rest = iso
        sm = _ISO_SYSLOG_REST_RE.match(rest)
        if sm and not LEVEL_RE.fullmatch(sm.group(1)):
            return {"ts": ts, "host": sm.group(1), "program": sm.group(2), "pid": sm.group(3)}
    return None


def _utcnow() -> datetime:
    """The package's clock, looked up when called so that tests can pin `ingest.records._utcnow`."""
    from ingest import records
    return records._utcnow()


def infer_years(events: list[LogEvent]) -> None:
    """RFC 3164 has no year: assume the current one, step across Dec->Jan rollovers, and go back a year if the
    newest event would otherwise lie in the future."""
    dated = [ev for ev in events if "md" in ev.info]
    if not dated:
        return
    offsets, offset, prev_month = [], 0, None
    for ev in dated:
        month = ev.info["md"][0]
        if prev_month is not None and month < prev_month - 6:
            offset += 1
        prev_month = month
        offsets.append(offset)
    now = _utcnow()
    base = now.year - offsets[-1]

    def build(ev: LogEvent, year: int) -> datetime | None:
        mo, d, hh, mi, ss = ev.info["md"]
        try:
            return datetime(year, mo, d, hh, mi, ss, tzinfo=UTC)
        except ValueError:
            return None

    last = build(dated[-1], base + offsets[-1])
    if last is not None and last > now + timedelta(days=1):
        base -= 1
    for ev, off in zip(dated, offsets, strict=True):
        ev.ts = build(ev, base + off)


def render(text: str, event: LogEvent) -> Block:
    info = event.info
    meta = {k: info[k] for k in ("host", "program", "pid") if info.get(k)}
    return Block(text=text, kind="event", ts_start=event.ts, ts_end=event.ts, section=info.get("program"),
                 meta=meta)


_EXAMPLE = (
    "Jan 19 06:25:01 mlp-train-gpu-04 CRON[40211]: pam_unix(cron:session): session opened for user root\n"
    "Jan 19 09:14:22 mlp-train-gpu-04 sshd[51877]: Accepted publickey for jdoe from 10.8.0.12 port 52144\n"
    "Jan 19 09:15:03 mlp-train-gpu-04 sudo:     jdoe : TTY=pts/0 ; PWD=/home/jdoe ; USER=svc-train-sync ; "
    "COMMAND=/bin/bash -i\n"
)

FORMAT = RecordFormat(
    name="syslog", kind=RecordKind.SYSLOG, container=Container.LOG_LINES,
    detect=detect, render=render, finish=infer_years,
    example=Example("text/plain", _EXAMPLE))
