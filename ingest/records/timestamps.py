"""Timestamps: ISO-8601-ish, RFC 2822 and epoch values as aware UTC datetimes, and their compact rendering."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any


def utcnow() -> datetime:
    """Current UTC time (a function so tests can pin it for syslog year inference)."""
    return datetime.now(UTC)


_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$")
_TZ_RE = re.compile(r"([+-])(\d{2}):?(\d{2})?")


def parse_ts(value: Any) -> datetime | None:
    """An ISO-8601-ish or RFC 2822 string or an epoch number as an aware UTC datetime (None if not one)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return from_epoch(float(value))
        except OverflowError:          # an integer beyond float range (JSON integers are unbounded)
            return None
    if not isinstance(value, str) or len(value) > 48:
        return None
    s = value.strip()
    m = _ISO_RE.match(s)
    if m:
        y, mo, d, hh, mi, ss, frac, tz = m.groups()
        try:
            micro = int((frac or "0")[:6].ljust(6, "0"))
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
        except ValueError:
            return None
        offset = timedelta(0)
        if tz and tz[0] in "+-":
            tm = _TZ_RE.match(tz)
            sign = -1 if tm.group(1) == "-" else 1
            offset = sign * timedelta(hours=int(tm.group(2)), minutes=int(tm.group(3) or 0))
        try:
            return (dt - offset).replace(tzinfo=UTC)
        except OverflowError:          # 0001-01-01T00:00+05:00 and 9999-12-31T23:59-05:00 lie outside datetime
            return None
    if re.fullmatch(r"\d{10}(?:\.\d+)?|\d{13}", s):
        return from_epoch(float(s))
    if re.match(r"^(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}", s):
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError):
            return None
        return aware(dt)
    return None


_LEADING_TS_RE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
                            r"(?:Z|z|[+-]\d{2}:?\d{2}|\s?UTC)?(?=$|[\s(,;])")


def parse_leading_ts(value: str) -> datetime | None:
    """A timestamp at the start of a field, ignoring a trailing note: '2026-02-11 (retrospective ECAB)'."""
    m = _LEADING_TS_RE.match(value)
    return parse_ts(m.group(0).replace("UTC", "Z").replace(" Z", "Z")) if m else None


def from_epoch(x: float) -> datetime | None:
    if x <= 0:
        return None
    for scale in (1, 1e3, 1e6, 1e9):     # seconds, ms, µs, ns
        secs = x / scale
        if secs < 4102444800:            # before 2100
            if secs < 315532800:         # before 1980: not a plausible event time
                return None
            return datetime.fromtimestamp(secs, UTC)
    return None


def aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def fmt_ts(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else "-"


def span(values: Iterable[datetime | None]) -> tuple[datetime | None, datetime | None]:
    vals = [v for v in values if v is not None]
    return (min(vals), max(vals)) if vals else (None, None)
