"""Split ticket and log exports into records before chunking.

`split_records(text, media)` recognises the record-stream shapes that compliance evidence is exported in (Jira
and GitHub issues, ServiceNow CSV exports, cloud audit logs, Kubernetes and Vault audit devices, generic JSON
Lines, syslog and application logs) and returns one `Block` per ticket, row or event, rendered as compact
readable text for semantic search, with provenance: record index, 1-based source line range, UTC timestamps
and a section label. Anything else returns None and is treated as prose by the caller.

Only the standard library is used. Parsing is linear in the input: no fixture takes more than ~40 ms.
"""

from __future__ import annotations

import bisect
import csv
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterable

__all__ = ["Block", "RecordStream", "split_records"]


@dataclass
class Block:
    """A unit of extracted text with where it came from."""
    text: str
    kind: str = "text"            # "text" (prose), "record" (ticket/row), "event" (one log event)
    page: int | None = None       # 1-based page (PDF only)
    record_index: int | None = None   # 0-based index of the record/event in the stream
    line_start: int | None = None     # 1-based first source line of this block (when knowable)
    line_end: int | None = None
    ts_start: datetime | None = None  # timezone-aware UTC
    ts_end: datetime | None = None
    section: str | None = None    # e.g. ticket key "KHA-1187", "CHG0031877", event type, heading
    meta: dict = field(default_factory=dict)   # small JSON-safe extras


@dataclass
class RecordStream:
    kind: str            # "jira", "github_issue", "servicenow", "cloudtrail", "gcp_audit", "azure_activity",
    #                      "k8s_audit", "vault_audit", "jsonl", "json_records", "syslog", "app_log"
    blocks: list[Block]


# ------------------------------------------------------------------------------------------------------------
# Media types

_JSON_MEDIA = {"application/json", "text/json"}
_JSONL_MEDIA = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
                "application/jsonlines", "application/json-lines", "application/json-seq"}
_CSV_MEDIA = {"text/csv", "application/csv"}
_PLAIN_MEDIA = {"text/plain", "text/x-log"}

LOG_MIN_PARSED_RATIO = 0.6       # share of non-empty lines that must carry a recognised timestamp
MAX_VALUE_CHARS = 240            # longer scalar values are truncated in key=value renderings
SKIP_VALUE_CHARS = 2000          # longer values (blobs, base64) are left out entirely


def _utcnow() -> datetime:
    """Current UTC time (a function so tests can pin it for syslog year inference)."""
    return datetime.now(timezone.utc)


def split_records(text: str, media: str) -> RecordStream | None:
    """Split a ticket/log export into records.

    media is one of "application/json", "application/x-ndjson", "text/csv", "text/plain" (also used for .log).
    Return a RecordStream when the content is a recognised ticket/log shape, else None (the caller then treats
    it as prose). Raise ValueError only for content that claims to be JSON/JSONL but cannot be parsed at all.
    """
    media = (media or "").split(";", 1)[0].strip().lower()
    if text.startswith("\ufeff"):
        text = text[1:]
    if media in _JSON_MEDIA:
        return _from_json_text(text, claims_jsonl=False)
    if media in _JSONL_MEDIA:
        return _from_json_text(text, claims_jsonl=True)
    if media in _CSV_MEDIA:
        return _from_csv(text)
    if media in _PLAIN_MEDIA:
        return _from_plain(text)
    return None


# ------------------------------------------------------------------------------------------------------------
# Small helpers: timestamps, values, key=value rendering

_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$")
_TZ_RE = re.compile(r"([+-])(\d{2}):?(\d{2})?")


def _parse_ts(value: Any) -> datetime | None:
    """An ISO-8601-ish or RFC 2822 string or an epoch number as an aware UTC datetime (None if not one)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(float(value))
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
        return (dt - offset).replace(tzinfo=timezone.utc)
    if re.fullmatch(r"\d{10}(?:\.\d+)?|\d{13}", s):
        return _from_epoch(float(s))
    if re.match(r"^(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}", s):
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError):
            return None
        return _aware(dt)
    return None


_LEADING_TS_RE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
                            r"(?:Z|z|[+-]\d{2}:?\d{2}|\s?UTC)?(?=$|[\s(,;])")


def _parse_leading_ts(value: str) -> datetime | None:
    """A timestamp at the start of a field, ignoring a trailing note: '2026-02-11 (retrospective ECAB)'."""
    m = _LEADING_TS_RE.match(value)
    return _parse_ts(m.group(0).replace("UTC", "Z").replace(" Z", "Z")) if m else None


def _from_epoch(x: float) -> datetime | None:
    if x <= 0:
        return None
    for scale in (1, 1e3, 1e6, 1e9):     # seconds, ms, µs, ns
        secs = x / scale
        if secs < 4102444800:            # before 2100
            if secs < 315532800:         # before 1980: not a plausible event time
                return None
            return datetime.fromtimestamp(secs, timezone.utc)
    return None


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _fmt_ts(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else "-"


def _span(values: Iterable[datetime | None]) -> tuple[datetime | None, datetime | None]:
    vals = [v for v in values if v is not None]
    return (min(vals), max(vals)) if vals else (None, None)


_HMAC_RE = re.compile(r"\b(hmac-sha(?:256|512|1):)([0-9a-fA-F]{8})[0-9a-fA-F]{24,}")
_LONG_HEX_RE = re.compile(r"\b([0-9a-fA-F]{12})[0-9a-fA-F]{44,}\b")


def _clean_str(s: str, limit: int = MAX_VALUE_CHARS) -> str:
    s = _HMAC_RE.sub(r"\1\2…", s)
    if len(s) > 56:
        s = _LONG_HEX_RE.sub(r"\1…", s)
    if len(s) > limit:
        s = s[:limit].rstrip() + "…"
    return s


def _fmt_val(v: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    """A scalar (or list of scalars) as a compact value; None for empty or oversized values."""
    if v is None or v == "" or v == [] or v == {}:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        parts = [p for p in (_fmt_val(x, limit) for x in v if not isinstance(x, (dict, list))) if p]
        return _clean_str(",".join(parts), limit) if parts else None
    if isinstance(v, str):
        if len(v) > SKIP_VALUE_CHARS:
            return None
        s = _clean_str(" ".join(v.split()), limit)
        if " " in s or s == "":
            return f"'{s}'" if '"' in s else f'"{s}"'
        return s
    return None


def _flatten(obj: Any, prefix: str = "", skip: Callable[[str], bool] | None = None, depth: int = 0,
             out: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """Flatten nested dicts into (dotted.key, value) pairs.

    Lists of scalars are comma-joined, lists of dicts indexed ("subjects.0.name")."""
    if out is None:
        out = []
    if isinstance(obj, dict):
        if depth > 8:
            return out
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if skip and skip(key):
                continue
            if isinstance(v, dict):
                _flatten(v, key, skip, depth + 1, out)
            elif isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
                for i, x in enumerate(v[:20]):
                    if isinstance(x, (dict, list)):
                        _flatten(x, f"{key}.{i}", skip, depth + 1, out)
                    else:
                        fv = _fmt_val(x)
                        if fv is not None:
                            out.append((f"{key}.{i}", fv))
            else:
                fv = _fmt_val(v)
                if fv is not None:
                    out.append((key, fv))
    elif isinstance(obj, list):
        for i, x in enumerate(obj[:20]):
            _flatten(x, f"{prefix}.{i}" if prefix else str(i), skip, depth + 1, out)
    else:
        fv = _fmt_val(obj)
        if fv is not None and prefix:
            out.append((prefix, fv))
    return out


def _kv(pairs: Iterable[tuple[str, str]], limit: int | None = None) -> str:
    s = " ".join(f"{k}={v}" for k, v in pairs)
    if limit and len(s) > limit:
        s = s[:limit].rstrip() + "…"
    return s


def _get(d: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return default
        d = d.get(p)
    return default if d is None else d


def _label(v: Any) -> str | None:
    """The human label of a Jira/GitHub-style value: a string, or a dict's name/value/displayName."""
    if v is None:
        return None
    if isinstance(v, str):
        return v or None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, dict):
        for k in ("displayName", "name", "value", "login", "title", "key"):
            if isinstance(v.get(k), str) and v[k]:
                return v[k]
    return None


def _joined(items: Any, sep: str = ", ") -> str | None:
    if not isinstance(items, list):
        return _label(items)
    parts = [p for p in (_label(x) for x in items) if p]
    return sep.join(parts) if parts else None


class _Lines:
    """Map character offsets to 1-based line numbers."""

    def __init__(self, text: str):
        self._nl = [m.start() for m in re.finditer("\n", text)]
        first = len(text) - len(text.lstrip())
        last = max(len(text.rstrip()) - 1, first)
        self.content = (self.line(first), self.line(last))      # lines holding the first/last non-blank char

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self._nl, offset) + 1


# ------------------------------------------------------------------------------------------------------------
# JSON / JSON Lines

_WS = " \t\n\r"


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def _scan_array(text: str, i: int, dec: json.JSONDecoder) -> tuple[list, list[tuple[int, int]], int]:
    assert text[i] == "["
    items, spans = [], []
    i = _skip_ws(text, i + 1)
    if text[i] == "]":
        return items, spans, i + 1
    while True:
        obj, end = dec.raw_decode(text, i)
        items.append(obj)
        spans.append((i, end))
        i = _skip_ws(text, end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
        elif text[i] == "]":
            return items, spans, i + 1
        else:
            raise ValueError("bad array")


def _scan_json(text: str) -> tuple[Any, dict[str | None, list[tuple[int, int]]]]:
    """Parse a JSON document, also returning character spans of the elements of the top-level array (key None)
    or of arrays that are direct members of the top-level object (key = member name).

    Raises ValueError if the document is invalid."""
    dec = json.JSONDecoder()
    try:
        i = _skip_ws(text, 0)
        spans: dict[str | None, list[tuple[int, int]]] = {}
        if i < len(text) and text[i] == "[":
            doc, sp, end = _scan_array(text, i, dec)
            spans[None] = sp
        elif i < len(text) and text[i] == "{":
            doc = {}
            i = _skip_ws(text, i + 1)
            if text[i] == "}":
                end = i + 1
            else:
                while True:
                    key, i = dec.raw_decode(text, i)
                    if not isinstance(key, str):
                        raise ValueError("bad key")
                    i = _skip_ws(text, i)
                    if text[i] != ":":
                        raise ValueError("bad member")
                    i = _skip_ws(text, i + 1)
                    if text[i] == "[":
                        val, sp, i = _scan_array(text, i, dec)
                        spans[key] = sp
                    else:
                        val, i = dec.raw_decode(text, i)
                        spans.pop(key, None)
                    doc[key] = val
                    i = _skip_ws(text, i)
                    if text[i] == ",":
                        i = _skip_ws(text, i + 1)
                    elif text[i] == "}":
                        end = i + 1
                        break
                    else:
                        raise ValueError("bad object")
        else:
            raise ValueError("not a container")
        if _skip_ws(text, end) != len(text):
            raise ValueError("trailing data")
        return doc, spans
    except (ValueError, IndexError, RecursionError):
        pass
    # Let the C parser give the authoritative verdict (and its error message).
    try:
        return json.loads(text), {}
    except RecursionError:
        raise ValueError("JSON nesting is too deep") from None


def _parse_jsonl(text: str) -> tuple[list[tuple[int, dict]], int, int]:
    """Parse JSON Lines: ([(1-based line, object)], malformed line count, non-empty line count)."""
    good, bad, nonempty = [], 0, 0
    for lineno, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s:
            continue
        nonempty += 1
        if s[0] != "{":
            bad += 1
            continue
        try:
            obj = json.loads(s)
        except ValueError:
            bad += 1
            continue
        if isinstance(obj, dict):
            good.append((lineno, obj))
        else:
            bad += 1
    return good, bad, nonempty


def _from_json_text(text: str, *, claims_jsonl: bool) -> RecordStream | None:
    if not text.strip():
        raise ValueError("empty JSON document")
    if claims_jsonl:
        good, bad, nonempty = _parse_jsonl(text)
        if good and bad * 2 <= nonempty:
            return _from_jsonl_objects(good)
        try:                                   # a pretty-printed JSON document behind a .jsonl name
            doc, spans = _scan_json(text)
        except ValueError:
            raise ValueError(f"{bad} of {nonempty} non-empty lines are not JSON objects") from None
        return _from_json_doc(doc, spans, _Lines(text))
    try:
        doc, spans = _scan_json(text)
    except ValueError as e:
        good, bad, nonempty = _parse_jsonl(text)   # JSON Lines behind a .json name
        if len(good) >= 2 and bad * 2 <= nonempty:
            return _from_jsonl_objects(good)
        raise ValueError(f"invalid JSON: {e}") from None
    return _from_json_doc(doc, spans, _Lines(text))


# Shape detectors for single objects -------------------------------------------------------------------------

def _is_cloudtrail(o: dict) -> bool:
    return "eventTime" in o and "eventName" in o and ("eventSource" in o or "userIdentity" in o)


def _is_gcp(o: dict) -> bool:
    return isinstance(o.get("protoPayload"), dict) or ("logName" in o and "insertId" in o)


def _is_azure(o: dict) -> bool:
    return "eventTimestamp" in o and "operationName" in o and ("resourceId" in o or "caller" in o)


def _is_k8s(o: dict) -> bool:
    return o.get("kind") == "Event" and "auditID" in o and "verb" in o


def _is_vault(o: dict) -> bool:
    return o.get("type") in ("request", "response") and "time" in o and isinstance(o.get("request"), dict)


def _is_jira(o: dict) -> bool:
    return isinstance(o.get("key"), str) and isinstance(o.get("fields"), dict)


def _is_github_issue(o: dict) -> bool:
    return isinstance(o.get("title"), str) and ("body" in o or "comments" in o) and \
        any(k in o for k in ("number", "url", "html_url", "state"))


_EVENT_KINDS: list[tuple[str, Callable[[dict], bool]]] = [
    ("k8s_audit", _is_k8s), ("vault_audit", _is_vault), ("cloudtrail", _is_cloudtrail),
    ("gcp_audit", _is_gcp), ("azure_activity", _is_azure),
]


def _majority_kind(objs: list[dict], candidates: list[tuple[str, Callable[[dict], bool]]]) -> str | None:
    sample = objs if len(objs) <= 200 else objs[:100] + objs[-100:]
    best, best_n = None, 0
    for kind, test in candidates:
        n = sum(1 for o in sample if test(o))
        if n > best_n:
            best, best_n = kind, n
    return best if best_n * 2 >= len(sample) else None


def _from_jsonl_objects(good: list[tuple[int, dict]]) -> RecordStream:
    objs = [o for _, o in good]
    kind = _majority_kind(objs, _EVENT_KINDS) or "jsonl"
    blocks = []
    for idx, (lineno, obj) in enumerate(good):
        b = _render_event(kind, obj)
        b.record_index, b.line_start, b.line_end = idx, lineno, lineno
        blocks.append(b)
    return RecordStream(kind, blocks)


def _from_json_doc(doc: Any, spans: dict, lines: _Lines) -> RecordStream | None:
    def line_range(key: str | None, i: int) -> tuple[int | None, int | None]:
        sp = spans.get(key)
        if sp is None or i >= len(sp):
            return None, None
        a, b = sp[i]
        return lines.line(a), lines.line(b - 1)

    whole = lines.content

    if isinstance(doc, dict):
        if isinstance(doc.get("issues"), list) and doc["issues"] and all(_is_jira(x) for x in doc["issues"]
                                                                         if isinstance(x, dict)):
            names = doc.get("names") if isinstance(doc.get("names"), dict) else {}
            blocks = []
            for i, issue in enumerate(x for x in doc["issues"] if isinstance(x, dict)):
                b = _render_jira(issue, names)
                b.record_index = i
                b.line_start, b.line_end = line_range("issues", i)
                blocks.append(b)
            return RecordStream("jira", blocks)
        if _is_jira(doc):
            b = _render_jira(doc, doc.get("names") if isinstance(doc.get("names"), dict) else {})
            b.record_index, (b.line_start, b.line_end) = 0, whole
            return RecordStream("jira", [b])
        if _is_github_issue(doc):
            b = _render_github(doc)
            b.record_index, (b.line_start, b.line_end) = 0, whole
            return RecordStream("github_issue", [b])
        # Known wrappers around event arrays.
        for key, kind in (("Records", "cloudtrail"), ("entries", "gcp_audit"), ("value", "azure_activity"),
                          ("items", "k8s_audit")):
            items = doc.get(key)
            if isinstance(items, list) and items and all(isinstance(x, dict) for x in items):
                detected = _majority_kind(items, _EVENT_KINDS)
                if detected == kind:
                    return _event_array(kind, items, lambda i, k=key: line_range(k, i))
        for kind, test in _EVENT_KINDS:           # a single event object
            if test(doc):
                return _event_array(kind, [doc], lambda i: whole)
        return None

    if isinstance(doc, list):
        objs = [x for x in doc if isinstance(x, dict)]
        if not objs or len(objs) * 2 < len(doc):
            return None
        kind = _majority_kind(objs, _EVENT_KINDS)
        if kind:
            return _event_array(kind, doc, lambda i: line_range(None, i))
        if _majority_kind(objs, [("jira", _is_jira)]):
            blocks = []
            for i, issue in enumerate(doc):
                if isinstance(issue, dict) and _is_jira(issue):
                    b = _render_jira(issue, {})
                    b.record_index, (b.line_start, b.line_end) = i, line_range(None, i)
                    blocks.append(b)
            return RecordStream("jira", blocks)
        if _majority_kind(objs, [("github_issue", _is_github_issue)]):
            blocks = []
            for i, issue in enumerate(doc):
                if isinstance(issue, dict) and _is_github_issue(issue):
                    b = _render_github(issue)
                    b.record_index, (b.line_start, b.line_end) = i, line_range(None, i)
                    blocks.append(b)
            return RecordStream("github_issue", blocks)
        blocks = []
        for i, obj in enumerate(doc):
            if isinstance(obj, dict):
                b = _render_generic(obj)
                b.record_index, (b.line_start, b.line_end) = i, line_range(None, i)
                if b.text:
                    blocks.append(b)
        return RecordStream("json_records", blocks) if blocks else None
    return None


def _event_array(kind: str, items: list, line_range: Callable[[int], tuple]) -> RecordStream:
    blocks = []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            continue
        b = _render_event(kind, obj)
        b.record_index = i
        b.line_start, b.line_end = line_range(i)
        blocks.append(b)
    # Exports such as `gcloud logging read` are newest first: lay events out chronologically (stable;
    # record_index keeps the original position).
    if any(b.ts_start for b in blocks):
        floor = datetime.min.replace(tzinfo=timezone.utc)
        blocks.sort(key=lambda b: (b.ts_start is None, b.ts_start or floor, b.record_index))
    return RecordStream(kind, blocks)


def _render_event(kind: str, obj: dict) -> Block:
    renderer = {"k8s_audit": (_is_k8s, _render_k8s), "vault_audit": (_is_vault, _render_vault),
                "cloudtrail": (_is_cloudtrail, _render_cloudtrail), "gcp_audit": (_is_gcp, _render_gcp),
                "azure_activity": (_is_azure, _render_azure)}.get(kind)
    if renderer and renderer[0](obj):
        return renderer[1](obj)
    return _render_generic(obj)


# Generic objects --------------------------------------------------------------------------------------------

_TS_KEYS = ("@timestamp", "timestamp", "ts", "time", "eventtime", "event_time", "eventtimestamp", "datetime",
            "date", "occurred_at", "occurredat", "created_at", "createdat", "created", "logged_at",
            "received_at", "updated_at", "start_time", "starttime")
_SECTION_KEYS = ("event", "event_type", "eventtype", "eventname", "event_name", "action", "type", "kind",
                 "operation", "method")
_PRINCIPAL_KEYS = ("actor", "user", "username", "user_name", "principal", "caller", "userid", "user_id",
                   "who")


def _find_ts(obj: dict) -> tuple[str | None, datetime | None]:
    lower = {k.lower(): k for k in obj}
    for cand in _TS_KEYS:
        k = lower.get(cand)
        if k is not None:
            ts = _parse_ts(obj[k])
            if ts:
                return k, ts
    return None, None


def _render_generic(obj: dict) -> Block:
    ts_key, ts = _find_ts(obj)
    pairs = _flatten({k: v for k, v in obj.items() if k != ts_key})
    text = _kv(pairs)
    if ts:
        text = f"{_fmt_ts(ts)} {text}".rstrip()
    lower = {k.lower(): k for k in obj}
    section = next((obj[lower[k]] for k in _SECTION_KEYS
                    if k in lower and isinstance(obj[lower[k]], str) and 0 < len(obj[lower[k]]) <= 80), None)
    meta = {}
    principal = next((obj[lower[k]] for k in _PRINCIPAL_KEYS
                      if k in lower and isinstance(obj[lower[k]], str) and obj[lower[k]]), None)
    if principal:
        meta["principal"] = principal[:200]
    return Block(text=text, kind="event" if ts else "record", ts_start=ts, ts_end=ts, section=section,
                 meta=meta)


# Cloud and platform audit logs ------------------------------------------------------------------------------

def _short_ua(ua: Any, tokens: int = 1) -> str | None:
    if not isinstance(ua, str) or not ua:
        return None
    return " ".join(ua.split()[:tokens])[:120]


def _render_cloudtrail(e: dict) -> Block:
    ts = _parse_ts(e.get("eventTime"))
    uid = e.get("userIdentity") or {}
    principal = (uid.get("arn") or _get(uid, "sessionContext", "sessionIssuer", "arn")
                 or uid.get("principalId") or uid.get("invokedBy") or uid.get("type"))
    parts = [_fmt_ts(ts), "cloudtrail", str(e.get("eventSource", "")), str(e.get("eventName", ""))]
    if principal:
        parts.append(f"by={principal}")
    if uid.get("type"):
        parts.append(f"identity_type={uid['type']}")
    issuer = _get(uid, "sessionContext", "sessionIssuer", "arn")
    if issuer and issuer != principal:
        parts.append(f"via={issuer}")
    mfa = (_get(uid, "sessionContext", "attributes", "mfaAuthenticated")
           or _get(e, "additionalEventData", "MFAUsed"))
    if mfa:
        parts.append(f"mfa={mfa}")
    for key, label in (("sourceIPAddress", "src"), ("awsRegion", "region"),
                       ("recipientAccountId", "account")):
        if e.get(key):
            parts.append(f"{label}={e[key]}")
    if e.get("userAgent"):
        parts.append(f"ua={_short_ua(e['userAgent'])}")
    if e.get("readOnly") is not None:
        parts.append(f"read_only={_fmt_val(e['readOnly'])}")
    text = " ".join(parts)
    if isinstance(e.get("requestParameters"), dict) and e["requestParameters"]:
        text += " params: " + _kv(_flatten(e["requestParameters"]), 300)
    if isinstance(e.get("responseElements"), dict) and e["responseElements"]:
        secret = re.compile(r"secretAccessKey|sessionToken|password", re.I)
        resp = _kv(_flatten(e["responseElements"], skip=lambda k: bool(secret.search(k))), 200)
        if resp:
            text += " response: " + resp
    meta: dict = {"principal": principal} if principal else {}
    if e.get("errorCode"):
        text += f" error={e['errorCode']}"
        if e.get("errorMessage"):
            text += f": {_clean_str(str(e['errorMessage']), 200)}"
        meta["error"] = str(e["errorCode"])
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=e.get("eventName"), meta=meta)


def _seconds_to_iso(obj: Any) -> Any:
    """GCP protobuf timestamps ({"seconds": N, "nanos": M}) as ISO strings, recursively."""
    if isinstance(obj, dict):
        if obj and set(obj) <= {"seconds", "nanos"} and "seconds" in obj:
            try:
                epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
                return _fmt_ts(epoch + timedelta(seconds=int(obj["seconds"])))
            except (ValueError, OverflowError, TypeError):
                return obj
        return {k: _seconds_to_iso(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_seconds_to_iso(x) for x in obj]
    return obj


def _render_gcp(e: dict) -> Block:
    ts = _parse_ts(e.get("timestamp")) or _parse_ts(e.get("receiveTimestamp"))
    p = e.get("protoPayload") if isinstance(e.get("protoPayload"), dict) else {}
    principal = (_get(p, "authenticationInfo", "principalEmail")
                 or _get(p, "authenticationInfo", "principalSubject"))
    method = p.get("methodName")
    parts = [_fmt_ts(ts), "gcp"]
    if p:
        parts += [str(p.get("serviceName", "")), str(method or "")]
        if principal:
            parts.append(f"by={principal}")
        deleg = _get(p, "authenticationInfo", "serviceAccountDelegationInfo")
        if isinstance(deleg, list) and deleg:
            chain = [_get(d, "firstPartyPrincipal", "principalEmail") or _get(d, "principalSubject")
                     for d in deleg]
            chain = [c for c in chain if c]
            if chain:
                parts.append("delegated_from=" + ",".join(chain))
        rm = p.get("requestMetadata") or {}
        if rm.get("callerIp"):
            parts.append(f"src={rm['callerIp']}")
        if rm.get("callerSuppliedUserAgent"):
            parts.append(f"ua=\"{_short_ua(rm['callerSuppliedUserAgent'], 3)}\"")
        if p.get("resourceName"):
            parts.append(f"resource={_clean_str(str(p['resourceName']), 200)}")
    res = e.get("resource") or {}
    if res.get("type"):
        labels = _kv(_flatten(res.get("labels") or {}, skip=lambda k: k.endswith("unique_id")), 200)
        parts.append(f"resource_type={res['type']}" + (f" ({labels})" if labels else ""))
    if e.get("severity"):
        parts.append(f"severity={e['severity']}")
    authz = p.get("authorizationInfo")
    if isinstance(authz, list) and authz:
        perms = [f"{a.get('permission')}{'' if a.get('granted', True) else ' (denied)'}"
                 for a in authz[:5] if isinstance(a, dict) and a.get("permission")]
        if perms:
            parts.append("permission=" + ",".join(perms))
    text = " ".join(x for x in parts if x)
    meta: dict = {"principal": principal} if principal else {}
    status = p.get("status") or {}
    if status.get("code") or status.get("message"):
        message = _clean_str(str(status.get("message", "")), 200)
        text += f" status: code={status.get('code')} {message}".rstrip()
        for d in status.get("details") or []:
            for v in (d.get("violations") or []) if isinstance(d, dict) else []:
                if isinstance(v, dict) and v.get("type"):
                    text += f" violation={v['type']}"
        meta["error"] = str(status.get("message") or status.get("code"))
    delta = _get(p, "serviceData", "policyDelta", "bindingDeltas") or _get(p, "metadata", "datasetChange",
                                                                             "bindingDeltas") or []
    if isinstance(delta, list) and delta:
        text += " policy delta: " + "; ".join(
            f"{d.get('action')} {d.get('role')} {d.get('member')}" for d in delta[:20] if isinstance(d, dict))
    skip_req = (lambda k: k.endswith("@type") or k.endswith("etag") or k == "updateMask"
                or (bool(delta) and k.startswith("policy")))
    if isinstance(p.get("request"), dict):
        req = _kv(_flatten(_seconds_to_iso(p["request"]), skip=skip_req), 700)
        if req:
            text += " request: " + req
    if isinstance(p.get("response"), dict):
        def skip_resp(k: str) -> bool:
            return k.endswith("@type") or k.endswith("etag") or (bool(delta) and k.startswith("bindings"))
        resp = _kv(_flatten(_seconds_to_iso(p["response"]), skip=skip_resp), 300)
        if resp:
            text += " response: " + resp
    if e.get("textPayload"):
        text += " " + _clean_str(str(e["textPayload"]), 1000)
    if isinstance(e.get("jsonPayload"), dict):
        text += " " + _kv(_flatten(e["jsonPayload"]), 600)
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=method or e.get("logName"),
                 meta=meta)


_AZURE_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
}
_AZ_SUB_RE = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}(?:/resourceGroups/([^/]+))?(?:/providers)?", re.I)
_AZ_ROLE_RE = re.compile(r"(?:/subscriptions/[0-9a-fA-F-]{36})?/providers/Microsoft\.Authorization/"
                         r"roleDefinitions/([0-9a-fA-F-]{36})", re.I)


def _map_strings(obj: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _map_strings(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_strings(x, fn) for x in obj]
    return obj


def _short_azure_id(s: str) -> str:
    """'/subscriptions/<id>/resourceGroups/rg/providers/X/y' -> 'rg/X/y'; role definition ids -> names."""
    s = _AZ_ROLE_RE.sub(lambda m: _AZURE_ROLES.get(m.group(1).lower(), f"role:{m.group(1)}"), s)
    return _AZ_SUB_RE.sub(lambda m: (m.group(1) or "subscription"), s)


def _render_azure(e: dict) -> Block:
    ts = _parse_ts(e.get("eventTimestamp"))
    op = e.get("operationName") or {}
    op_value = op.get("value") if isinstance(op, dict) else str(op)
    op_label = op.get("localizedValue") if isinstance(op, dict) else None
    status = _label(e.get("status"))
    sub = _label(e.get("subStatus"))
    claims = e.get("claims") if isinstance(e.get("claims"), dict) else {}
    parts = [_fmt_ts(ts), "azure"]
    if op_label and op_label != op_value:
        parts.append(f"{op_label} ({op_value})")
    else:
        parts.append(str(op_value))
    if status:
        parts.append(f"status={status}" + (f"/{sub}" if sub else ""))
    caller = e.get("caller")
    if caller:
        parts.append(f"caller={caller}")
    name = claims.get("name")
    upn = claims.get("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn") or claims.get("upn")
    if name and name != caller:
        parts.append(f'name="{name}"')
    if upn and upn != caller:
        parts.append(f"upn={upn}")
    if claims.get("appid") and claims.get("idtyp") == "app":
        parts.append(f"app_id={claims['appid']} identity_type=app")
    ip = _get(e, "httpRequest", "clientIpAddress") or claims.get("ipaddr")
    if ip:
        parts.append(f"src={ip}")
    if _get(e, "httpRequest", "method"):
        parts.append(f"method={e['httpRequest']['method']}")
    if e.get("resourceId"):
        parts.append(f"resource={_short_azure_id(str(e['resourceId']))}")
    level = _label(e.get("level"))
    if level and level != "Informational":
        parts.append(f"level={level}")
    category = _label(e.get("category"))
    if category:
        parts.append(f"category={category}")
    if e.get("description"):
        parts.append(f'description="{_clean_str(str(e["description"]), 200)}"')
    text = " ".join(parts)
    props = e.get("properties") if isinstance(e.get("properties"), dict) else {}
    shown = {}
    for k, v in props.items():
        if v is None or k in ("entity", "hierarchy", "eventCategory", "message", "serviceRequestId",
                              "statusCode"):
            continue
        if isinstance(v, str) and v[:1] in "{[":
            try:
                v = json.loads(v)
            except ValueError:
                pass
        shown[k] = v
    if shown:
        def skip(k: str) -> bool:
            last = k.rsplit(".", 1)[-1].lower()
            return last in ("createdon", "updatedon", "createdby", "id", "name", "type", "policydefinitionid",
                            "delegatedmanagedidentityresourceid")
        pairs, seen = [], set()
        for k, v in _flatten(_map_strings(shown, _short_azure_id), skip=skip):
            k = re.sub(r"^(?:requestbody|responsebody)\.", "", k, flags=re.I)
            k = re.sub(r"(?:^|\.)properties\.", lambda m: m.group(0)[:-len("properties.")], k, flags=re.I)
            dedupe = (k.rsplit(".", 1)[-1].lower(), v)
            if dedupe not in seen:
                seen.add(dedupe)
                pairs.append((k, v))
        text += " " + _kv(pairs, 700)
    meta: dict = {}
    if caller:
        meta["principal"] = str(caller)
    if status and status.lower() == "failed":
        meta["error"] = sub or status
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=op_value, meta=meta)


def _render_k8s(e: dict) -> Block:
    ts = _parse_ts(e.get("requestReceivedTimestamp")) or _parse_ts(e.get("stageTimestamp"))
    ref = e.get("objectRef") or {}
    user = e.get("user") or {}
    username = user.get("username")
    resource = str(ref.get("resource") or "")
    if ref.get("subresource"):
        resource += "/" + ref["subresource"]
    target = "/".join(x for x in (ref.get("namespace"), ref.get("name")) if x)
    parts = [_fmt_ts(ts), "k8s", str(e.get("verb", "")), resource or str(e.get("requestURI", ""))]
    if target:
        parts.append(target)
    if ref.get("apiGroup"):
        parts.append(f"group={ref['apiGroup']}")
    if username:
        parts.append(f"user={username}")
    imp = _get(e, "impersonatedUser", "username")
    if imp:
        parts.append(f"impersonated={imp}")
    pod = _get(user, "extra", "authentication.kubernetes.io/pod-name")
    if pod:
        parts.append(f"pod={_fmt_val(pod)}")
    if e.get("sourceIPs"):
        parts.append(f"src={_fmt_val(e['sourceIPs'])}")
    if e.get("userAgent"):
        parts.append(f"ua={_short_ua(e['userAgent'])}")
    if e.get("stage") and e["stage"] != "ResponseComplete":
        parts.append(f"stage={e['stage']}")
    rs = e.get("responseStatus") or {}
    code = rs.get("code")
    if code is not None:
        parts.append(f"code={code}")
    ann = e.get("annotations") or {}
    decision = ann.get("authorization.k8s.io/decision")
    if decision:
        parts.append(f"decision={decision}")
    reason = ann.get("authorization.k8s.io/reason")
    if reason:
        parts.append(f"reason={_fmt_val(reason)}")
    text = " ".join(parts)
    if rs.get("message"):
        text += f" message={_fmt_val(rs['message'])}"
    if isinstance(e.get("requestObject"), dict):
        req = _kv(_flatten(e["requestObject"], skip=lambda k: k.endswith("creationTimestamp")
                           or k.endswith("managedFields") or k == "apiVersion"), 400)
        if req:
            text += " request: " + req
    meta: dict = {}
    if username:
        meta["principal"] = username
    if isinstance(code, int):
        meta["code"] = code
    section = f"{e.get('verb', '')} {resource}".strip() or None
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=section, meta=meta)


def _vault_identity(auth: dict) -> list[str]:
    out = []
    if auth.get("display_name"):
        out.append(f"display_name={auth['display_name']}")
    md = auth.get("metadata") if isinstance(auth.get("metadata"), dict) else {}
    for k in ("role", "role_name", "email", "username"):
        if md.get(k):
            out.append(f"{k}={md[k]}")
    if md.get("service_account_name"):
        out.append(f"service_account={md.get('service_account_namespace', '')}/{md['service_account_name']}")
    pol = auth.get("policies") or auth.get("token_policies")
    if pol:
        out.append(f"policies={_fmt_val(pol)}")
    if auth.get("token_ttl"):
        out.append(f"token_ttl={auth['token_ttl']}s")
    return out


def _render_vault(e: dict) -> Block:
    ts = _parse_ts(e.get("time"))
    req = e.get("request") or {}
    auth = e.get("auth") if isinstance(e.get("auth"), dict) else {}
    parts = [_fmt_ts(ts), "vault", str(e.get("type", "")), str(req.get("operation", "")),
             str(req.get("path", ""))]
    if auth:
        parts += _vault_identity(auth)
        allowed = _get(auth, "policy_results", "allowed")
        if allowed is not None:
            parts.append(f"allowed={_fmt_val(allowed)}")
    if req.get("remote_address"):
        parts.append(f"remote={req['remote_address']}")
    if isinstance(req.get("data"), dict) and req["data"]:
        parts.append("request_keys=" + ",".join(list(req["data"])[:12]))
    resp = e.get("response") if isinstance(e.get("response"), dict) else {}
    if isinstance(resp.get("auth"), dict) and resp["auth"]:
        parts.append("issued_token:")
        parts += _vault_identity(resp["auth"])
    data = resp.get("data")
    if isinstance(data, dict) and data:
        keys = list(data["data"]) if isinstance(data.get("data"), dict) else list(data)
        parts.append("data_keys=" + ",".join(keys[:12]))
    if resp.get("lease_duration"):
        parts.append(f"lease_duration={resp['lease_duration']}s")
    text = " ".join(x for x in parts if x)
    meta: dict = {}
    principal = auth.get("display_name") or _get(resp, "auth", "display_name")
    if principal:
        meta["principal"] = principal
    if e.get("error"):
        msgs = [m.strip(" *\t") for m in str(e["error"]).splitlines() if m.strip(" *\t")]
        msgs = [m for m in msgs if not re.fullmatch(r"\d+ errors? occurred:", m)] or msgs
        err = "; ".join(msgs)
        text += f" error={_fmt_val(err)}"
        meta["error"] = err[:200]
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=req.get("path") or None, meta=meta)


# Tickets ----------------------------------------------------------------------------------------------------

_ADF_INLINE = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "placeholder",
               "mediaInline", "inlineExtension"}


def _adf(node: Any, depth: int = 0) -> str:
    """Flatten an Atlassian Document Format tree to plain text (paragraphs, lists, tables, code kept)."""
    if isinstance(node, list):
        return "\n\n".join(t for t in (_adf(n, depth) for n in node) if t.strip())
    if not isinstance(node, dict) or depth > 60:
        return ""
    t = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    content = node.get("content") if isinstance(node.get("content"), list) else []
    if t == "text":
        return str(node.get("text", ""))
    if t == "hardBreak":
        return "\n"
    if t in ("mention", "emoji", "status"):
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if t in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if t == "date":
        ts = _parse_ts(float(attrs["timestamp"])) if str(attrs.get("timestamp", "")).isdigit() else None
        return ts.strftime("%Y-%m-%d") if ts else ""
    if t in ("media", "mediaSingle", "mediaGroup", "mediaInline", "placeholder", "extension"):
        return ""
    if t == "rule":
        return "---"
    if t in ("paragraph", "heading"):
        return "".join(_adf(c, depth + 1) for c in content)
    if t == "codeBlock":
        return "".join(_adf(c, depth + 1) for c in content)
    if t in ("bulletList", "orderedList", "taskList", "decisionList"):
        start = attrs.get("order", 1) if isinstance(attrs.get("order"), int) else 1
        lines = []
        for i, item in enumerate(content):
            body = _adf(item, depth + 1)
            if not body.strip():
                continue
            if t == "orderedList":
                marker = f"{start + i}. "
            elif t == "taskList":
                marker = "[x] " if _get(item, "attrs", "state") == "DONE" else "[ ] "
            else:
                marker = "- "
            sub = body.split("\n")
            lines.append(marker + sub[0])
            lines.extend("  " + s for s in sub[1:] if s.strip())
        return "\n".join(lines)
    if t in ("listItem", "taskItem", "decisionItem"):
        if all(isinstance(c, dict) and c.get("type") in _ADF_INLINE for c in content):
            return "".join(_adf(c, depth + 1) for c in content)
        return "\n".join(s for s in (_adf(c, depth + 1) for c in content) if s.strip())
    if t == "table":
        return "\n".join(r for r in (_adf(c, depth + 1) for c in content) if r.strip())
    if t == "tableRow":
        return " | ".join(" ".join(_adf(c, depth + 1).split()) for c in content)
    if t in ("tableCell", "tableHeader"):
        return "\n".join(_adf(c, depth + 1) for c in content)
    if t in ("expand", "nestedExpand"):
        title = attrs.get("title")
        body = _adf(content, depth + 1)
        return f"{title}\n{body}" if title else body
    if content:   # doc, blockquote, panel, layouts, unknown containers
        if all(isinstance(c, dict) and c.get("type") in _ADF_INLINE for c in content):
            return "".join(_adf(c, depth + 1) for c in content)
        return "\n\n".join(s for s in (_adf(c, depth + 1) for c in content) if s.strip())
    return str(node.get("text", ""))


_WIKI_SUBS = [
    (re.compile(r"\{\{(.+?)\}\}"), r"\1"),                                   # {{monospace}}
    (re.compile(r"^h[1-6]\.\s*", re.M), ""),                                  # h2. Heading
    (re.compile(r"^\s*\{(?:code|noformat|quote|panel)(?::[^}]*)?\}\s*$", re.M), ""),
    (re.compile(r"\{(?:code|noformat|quote|panel|color)(?::[^}]*)?\}"), ""),
    (re.compile(r"\[([^|\]\n]+)\|[^\]\n]+\]"), r"\1"),                        # [text|url]
    (re.compile(r"\[~(?:accountid:)?([^\]\n]+)\]"), r"@\1"),                  # [~user]
    (re.compile(r"^([*#]+)\s+", re.M), lambda m: "  " * (len(m.group(1)) - 1) + "- "),   # lists
    (re.compile(r"\|\|"), " | "),                                            # table header cells
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),    # *bold*
    (re.compile(r"!([^!\s|]+)(?:\|[^!]*)?!"), r"[image \1]"),                 # !image.png|thumbnail!
]


def _wiki_to_text(s: str) -> str:
    for rx, rep in _WIKI_SUBS:
        s = rx.sub(rep, s)
    s = re.sub(r"^ \| ", "| ", s, flags=re.M)
    s = re.sub(r" \| $", " |", s, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", s).strip()


def _jira_accounts(obj: Any, out: dict[str, str], depth: int = 0) -> dict[str, str]:
    """accountId -> displayName for every user object in an issue (to resolve [~accountid:...] mentions)."""
    if depth > 12:
        return out
    if isinstance(obj, dict):
        if isinstance(obj.get("accountId"), str) and isinstance(obj.get("displayName"), str):
            out[obj["accountId"]] = obj["displayName"]
        for v in obj.values():
            if isinstance(v, (dict, list)):
                _jira_accounts(v, out, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)):
                _jira_accounts(v, out, depth + 1)
    return out


def _rich_text(v: Any) -> str:
    if isinstance(v, dict):
        return _adf(v).strip()
    if isinstance(v, str):
        return _wiki_to_text(v)
    return ""


_JIRA_STANDARD = {"summary", "description", "status", "issuetype", "priority", "labels", "components",
                  "created", "updated", "resolutiondate", "resolution", "assignee", "reporter", "creator",
                  "comment", "project", "fixVersions", "versions", "issuelinks", "subtasks", "parent",
                  "attachment", "duedate", "environment", "worklog", "watches", "votes", "timetracking",
                  "lastViewed"}
_JIRA_HISTORY_FIELDS = ("status", "resolution", "assignee", "priority")


def _jira_value(v: Any) -> str | None:
    if v is None or v in ("", "{}", [], {}):
        return None
    if isinstance(v, str):
        if re.fullmatch(r"\d+\|[\w:]+", v):        # rank values like "0|i00f88e:"
            return None
        ts = _parse_ts(v) if re.match(r"\d{4}-\d{2}-\d{2}T", v) else None
        return _fmt_ts(ts) if ts else _clean_str(v.strip(), 500)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dict):
        if v.get("type") == "doc":
            return _adf(v).strip() or None
        return _label(v)
    if isinstance(v, list):
        parts = [p for p in (_jira_value(x) for x in v) if p]
        return ", ".join(parts) if parts else None
    return None


def _render_jira(issue: dict, names: dict) -> Block:
    f = issue.get("fields") or {}
    key = issue.get("key")
    names = {**(names or {}), **(issue.get("names") if isinstance(issue.get("names"), dict) else {})}
    lines = [f"{key} [{_label(f.get('issuetype')) or 'Issue'}] {f.get('summary') or ''}".strip()]

    def row(*pairs: tuple[str, Any]) -> None:
        cells = [f"{label}: {val}" for label, val in pairs if val]
        if cells:
            lines.append(" | ".join(cells))

    created, updated = _parse_ts(f.get("created")), _parse_ts(f.get("updated"))
    resolved = _parse_ts(f.get("resolutiondate"))
    project = f.get("project") or {}
    project_label = (f"{project.get('name')} ({project.get('key')})" if project.get("name")
                     else project.get("key"))
    row(("Project", project_label))
    row(("Status", _label(f.get("status"))), ("Resolution", _label(f.get("resolution"))),
        ("Priority", _label(f.get("priority"))))
    row(("Labels", _joined(f.get("labels"))), ("Components", _joined(f.get("components"))),
        ("Fix versions", _joined(f.get("fixVersions"))), ("Affects versions", _joined(f.get("versions"))))
    row(("Assignee", _label(f.get("assignee"))), ("Reporter", _label(f.get("reporter"))))
    row(("Created", created and _fmt_ts(created)), ("Updated", updated and _fmt_ts(updated)),
        ("Resolved", resolved and _fmt_ts(resolved)), ("Due", f.get("duedate")))
    if isinstance(f.get("parent"), dict) and f["parent"].get("key"):
        row(("Parent", f"{f['parent']['key']} {_get(f['parent'], 'fields', 'summary', default='')}".strip()))
    links = []
    for link in f.get("issuelinks") or []:
        if not isinstance(link, dict):
            continue
        for side, verb in (("outwardIssue", "outward"), ("inwardIssue", "inward")):
            other = link.get(side)
            if isinstance(other, dict) and other.get("key"):
                summary = _get(other, "fields", "summary", default="")
                rel = _get(link, "type", verb, default="relates to")
                links.append(f"{rel} {other['key']}" + (f" ({summary})" if summary else ""))
    if links:
        lines.append("Links: " + "; ".join(links))
    subtasks = [f"{s.get('key')} {_get(s, 'fields', 'summary', default='')}".strip()
                for s in f.get("subtasks") or [] if isinstance(s, dict) and s.get("key")]
    if subtasks:
        lines.append("Sub-tasks: " + "; ".join(subtasks))
    attachments = [a.get("filename") for a in f.get("attachment") or []
                   if isinstance(a, dict) and a.get("filename")]
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    for fid, v in f.items():
        if fid in _JIRA_STANDARD:
            continue
        label = names.get(fid)
        if label:
            val = _jira_value(v)
            if val:
                lines.append(f"{label}: {val}")
        elif fid.startswith("customfield_") and isinstance(v, (str, dict)):
            val = _rich_text(v) if (isinstance(v, dict) and v.get("type") == "doc") or \
                (isinstance(v, str) and " " in v.strip()) else None
            if val:
                lines.append(f"{fid}: {val}")
    if f.get("environment"):
        env = _rich_text(f["environment"])
        if env:
            lines.append(f"Environment: {env}")
    desc = _rich_text(f.get("description"))
    if desc:
        lines += ["", "Description:", desc]

    stamps = [created, updated, resolved]
    comments = _get(f, "comment", "comments", default=[])
    if isinstance(comments, list) and comments:
        lines += ["", "Comments:"]
        for c in comments:
            if not isinstance(c, dict):
                continue
            cts = _parse_ts(c.get("created"))
            stamps += [cts, _parse_ts(c.get("updated"))]
            author = _label(c.get("author")) or "unknown"
            body = _rich_text(c.get("body"))
            lines.append(f"[{_fmt_ts(cts)}] {author}: {body}")
    transitions = []
    for h in _get(issue, "changelog", "histories", default=[]) or []:
        if not isinstance(h, dict):
            continue
        hts = _parse_ts(h.get("created"))
        for item in h.get("items") or []:
            if isinstance(item, dict) and item.get("field") in _JIRA_HISTORY_FIELDS:
                stamps.append(hts)
                who = _label(h.get("author"))
                transitions.append(f"{_fmt_ts(hts)} {item['field']} {item.get('fromString') or '-'} -> "
                                   f"{item.get('toString') or '-'}" + (f" ({who})" if who else ""))
    if transitions:
        lines += ["", "History: " + "; ".join(transitions)]

    text = "\n".join(lines).strip()
    accounts = _jira_accounts(issue, {})
    if accounts:
        text = re.sub(r"@([0-9]{4,}:[0-9a-f-]{36}|[0-9a-f]{24})\b",
                      lambda m: "@" + accounts.get(m.group(1), m.group(1)), text)
    ts_start = created or _span(stamps)[0]
    ts_end = _span(stamps)[1]
    meta = {k: v for k, v in ((k, _label(f.get(k))) for k in ("status", "issuetype", "priority", "resolution",
                                                              "assignee")) if v}
    if isinstance(f.get("labels"), list) and f["labels"]:
        meta["labels"] = [str(x) for x in f["labels"][:20]]
    return Block(text=text, kind="record", ts_start=ts_start, ts_end=ts_end, section=key, meta=meta)


_HTML_NOISE = re.compile(r"<!--.*?-->|</?(?:details|summary|br|sub|sup|kbd|p)\b[^>]*>", re.S | re.I)


def _md_clean(s: Any) -> str:
    if not isinstance(s, str):
        return ""
    s = _HTML_NOISE.sub("", s.replace("\r\n", "\n"))
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"[image \1]", s)
    return re.sub(r"\n{3,}", "\n\n", s).strip()


def _render_github(issue: dict) -> Block:
    url = issue.get("html_url") or issue.get("url") or ""
    m = re.search(r"github\.com/([^/]+)/([^/]+)/(?:issues|pull)/(\d+)", url)
    number = issue.get("number") or (m and m.group(3))
    section = f"{m.group(2)}#{number}" if m else (f"#{number}" if number else None)
    created = _parse_ts(issue.get("createdAt") or issue.get("created_at"))
    closed = _parse_ts(issue.get("closedAt") or issue.get("closed_at"))
    updated = _parse_ts(issue.get("updatedAt") or issue.get("updated_at"))
    state = issue.get("state")
    reason = issue.get("stateReason") or issue.get("state_reason")
    author = issue.get("author") or issue.get("user") or {}
    author_s = _label(author)
    if isinstance(author, dict) and author.get("name") and author.get("login"):
        author_s = f"{author['login']} ({author['name']})"
    lines = [f"{section or 'issue'} {issue.get('title', '')}".strip()]
    cells = [f"State: {state}" + (f" ({reason})" if reason else "") if state else None,
             f"Labels: {_joined(issue.get('labels'))}" if _joined(issue.get("labels")) else None,
             f"Milestone: {_label(issue.get('milestone'))}" if _label(issue.get("milestone")) else None]
    lines.append(" | ".join(c for c in cells if c))
    cells = [f"Author: {author_s}" if author_s else None,
             f"Assignees: {_joined(issue.get('assignees'))}" if _joined(issue.get("assignees")) else None]
    lines.append(" | ".join(c for c in cells if c))
    cells = [f"Created: {_fmt_ts(created)}" if created else None,
             f"Closed: {_fmt_ts(closed)}" if closed else None,
             f"Updated: {_fmt_ts(updated)}" if updated else None]
    lines.append(" | ".join(c for c in cells if c))
    body = _md_clean(issue.get("body"))
    if body:
        lines += ["", body]
    stamps = [created, closed, updated]
    comments = issue.get("comments")
    if isinstance(comments, list) and comments:
        lines += ["", "Comments:"]
        for c in comments:
            if not isinstance(c, dict):
                continue
            cts = _parse_ts(c.get("createdAt") or c.get("created_at"))
            stamps.append(cts)
            who = _label(c.get("author") or c.get("user")) or "unknown"
            lines.append(f"[{_fmt_ts(cts)}] {who}: {_md_clean(c.get('body'))}")
    meta = {}
    if state:
        meta["state"] = str(state)
    labels = [x for x in (_label(lb) for lb in issue.get("labels") or []) if x]
    if labels:
        meta["labels"] = labels[:20]
    text = "\n".join(x for x in lines if x is not None)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return Block(text=text, kind="record", ts_start=created or _span(stamps)[0], ts_end=_span(stamps)[1],
                 section=section, meta=meta)


# ------------------------------------------------------------------------------------------------------------
# ServiceNow CSV

_SN_NUMBER_RE = re.compile(r"^(?:CHG|RITM|INC|REQ|SCTASK|PRB|PTASK|CTASK|TASK|KB|STRY|CS|SIR|VUL|VIT|RISK|"
                           r"AUD|STSK|WO|WOT|DMND|ENHC|IMS)\d{4,}$")
_SN_DATE_COL_RE = re.compile(r"(?:^|_)(?:opened|closed|resolved|created|updated|start|end|date|on|at|time|"
                             r"approved|completed|planned)(?:$|_)")
_SN_META_COLS = ("state", "stage", "approval", "priority", "type", "risk", "assignment_group")


def _norm_col(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _from_csv(text: str) -> RecordStream | None:
    lines = text.split("\n")
    header_line = next((ln for ln in lines if ln.strip()), "")
    if not header_line:
        return None
    delim = max(",;\t|", key=header_line.count)
    if header_line.count(delim) == 0:
        return None
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    reader = csv.reader((ln + "\n" for ln in lines), delimiter=delim)
    rows: list[tuple[int, int, list[str]]] = []
    header: list[str] | None = None
    try:
        prev = 0
        for row in reader:
            start, prev = prev + 1, reader.line_num
            if not any(c.strip() for c in row):
                continue
            if header is None:
                header = [h.strip().lstrip("\ufeff").strip().strip('"') for h in row]
                continue
            rows.append((start, reader.line_num, row))
    except csv.Error:
        return None
    if not header or not rows:
        return None
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
    blocks = []
    for idx, (start, end, row) in enumerate(rows):
        cells = list(row) + [""] * (len(header) - len(row))
        names = header + [f"column_{i + 1}" for i in range(len(header), len(cells))]
        out = []
        for name, value in zip(names, cells):
            v = value.replace("\r\n", "\n").replace("\r", "\n").strip()
            if v:
                v = "\n".join(ln.rstrip() for ln in v.split("\n"))
                out.append(f"{name}: {v}")
        stamps = [_parse_leading_ts(cells[i]) for i in date_cols if i < len(cells) and cells[i].strip()]
        ts_start, ts_end = _span(stamps)
        section = None
        if num_col is not None and cells[num_col].strip():
            section = cells[num_col].strip()
        elif sys_id_col is not None and cells[sys_id_col].strip():
            section = cells[sys_id_col].strip()
        meta = {}
        for i, n in enumerate(norm):
            if n in _SN_META_COLS and i < len(cells) and cells[i].strip() and len(cells[i]) <= 80:
                meta[n] = cells[i].strip()
        blocks.append(Block(text="\n".join(out), kind="record", record_index=idx, line_start=start,
                            line_end=end, ts_start=ts_start, ts_end=ts_end, section=section, meta=meta))
    return RecordStream("servicenow", blocks)


# ------------------------------------------------------------------------------------------------------------
# Plain text: JSON content, syslog, application logs

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
_RFC3164_RE = re.compile(r"^(?:<\d{1,3}>)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+"
                         r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s+(\S+)\s+(\S.*)$")
_RFC5424_RE = re.compile(r"^<(\d{1,3})>1\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")
_ISO_PREFIX_RE = re.compile(r"^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
                            r"(?:Z|z|[+-]\d{2}:?\d{2}|\s?UTC)?)\]?(?=\s|$)\s*(.*)$")
_ISO_SYSLOG_REST_RE = re.compile(r"^(\S+)\s+([\w./@-]+)(?:\[(\d+)\])?:\s")
_TAG_RE = re.compile(r"^([\w./@-]+)(?:\[(\d+)\])?:")
_LEVEL_RE = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRIT|CRITICAL|FATAL|SEVERE|ALERT|"
                       r"EMERG)\b")
_COMPONENT_RE = re.compile(r"\[([A-Za-z][\w.:/-]{0,40})\]")
# Lines that plainly continue a multi-line event (stack traces): they join the previous event and do not count
# against the share of timestamped lines.
_TRACE_RE = re.compile(r"^(?:\s|Traceback \(most recent call last\)|Caused by[: ]|During handling of|"
                       r"The above exception|\.\.\. \d+ more|[\w.$]+(?:Error|Exception|Warning)\b)")
LOG_MIN_PARSED_SHARE_OF_ALL = 0.25


def _from_plain(text: str) -> RecordStream | None:
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc, spans = _scan_json(text)
        except ValueError:
            doc = None
        if doc is not None:
            return _from_json_doc(doc, spans, _Lines(text))
        good, bad, nonempty = _parse_jsonl(text)
        if good and len(good) >= LOG_MIN_PARSED_RATIO * nonempty:
            return _from_jsonl_objects(good)
    return _from_log_lines(text)


def _parse_log_line(line: str) -> dict | None:
    """Recognise the start of a log event; returns its parts or None (continuation / not a log line)."""
    m = _RFC3164_RE.match(line)
    if m:
        mon, day, hh, mi, ss, host, rest = m.groups()
        tag = _TAG_RE.match(rest)
        return {"fmt": "syslog", "md": (_MONTHS[mon], int(day), int(hh), int(mi), int(ss)), "host": host,
                "program": tag.group(1) if tag else None, "pid": tag.group(2) if tag else None}
    m = _RFC5424_RE.match(line)
    if m:
        _, ts, host, app, procid, _, _ = m.groups()
        return {"fmt": "syslog", "ts": _parse_ts(ts) if ts != "-" else None,
                "host": None if host == "-" else host, "program": None if app == "-" else app,
                "pid": None if procid == "-" else procid}
    m = _ISO_PREFIX_RE.match(line)
    if m:
        ts = _parse_ts(m.group(1).replace(" UTC", "Z").replace("UTC", "Z"))
        if ts is None:
            return None
        rest = m.group(2)
        sm = _ISO_SYSLOG_REST_RE.match(rest)
        if sm and not _LEVEL_RE.fullmatch(sm.group(1)):
            return {"fmt": "syslog", "ts": ts, "host": sm.group(1), "program": sm.group(2),
                    "pid": sm.group(3)}
        lm = _LEVEL_RE.search(rest[:40])
        cm = _COMPONENT_RE.search(rest[:160])
        return {"fmt": "app_log", "ts": ts, "level": lm.group(1) if lm else None,
                "component": cm.group(1) if cm else None}
    return None


def _infer_syslog_years(events: list[dict]) -> None:
    """RFC 3164 has no year: assume the current one, step across Dec->Jan rollovers, and go back a year if the
    newest event would otherwise lie in the future."""
    dated = [ev for ev in events if "md" in ev["info"]]
    if not dated:
        return
    offsets, offset, prev_month = [], 0, None
    for ev in dated:
        month = ev["info"]["md"][0]
        if prev_month is not None and month < prev_month - 6:
            offset += 1
        prev_month = month
        offsets.append(offset)
    now = _utcnow()
    base = now.year - offsets[-1]

    def build(ev: dict, year: int) -> datetime | None:
        mo, d, hh, mi, ss = ev["info"]["md"]
        try:
            return datetime(year, mo, d, hh, mi, ss, tzinfo=timezone.utc)
        except ValueError:
            return None

    last = build(dated[-1], base + offsets[-1])
    if last is not None and last > now + timedelta(days=1):
        base -= 1
    for ev, off in zip(dated, offsets):
        ev["ts"] = build(ev, base + off)


def _from_log_lines(text: str) -> RecordStream | None:
    lines = text.split("\n")
    events: list[dict] = []
    preamble: list[int] = []
    nonempty = parsed = trace = 0
    counts = {"syslog": 0, "app_log": 0}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        nonempty += 1
        info = _parse_log_line(line)
        if info is not None:
            parsed += 1
            counts[info["fmt"]] += 1
            events.append({"start": lineno, "end": lineno, "info": info, "ts": info.get("ts")})
        elif events:
            events[-1]["end"] = lineno          # continuation (stack trace, wrapped message)
            if _TRACE_RE.match(line):
                trace += 1
        else:
            preamble.append(lineno)
    if not events or parsed < LOG_MIN_PARSED_RATIO * (nonempty - trace) \
            or parsed < LOG_MIN_PARSED_SHARE_OF_ALL * nonempty:
        return None
    kind = "syslog" if counts["syslog"] >= counts["app_log"] else "app_log"
    _infer_syslog_years(events)
    blocks = []
    if preamble:
        a, b = preamble[0], preamble[-1]
        blocks.append(Block(text="\n".join(lines[a - 1:b]).strip(), kind="text", line_start=a, line_end=b))
    for idx, ev in enumerate(events):
        body = "\n".join(ln.rstrip() for ln in lines[ev["start"] - 1:ev["end"]]).strip()
        info = ev["info"]
        meta: dict = {}
        if info["fmt"] == "syslog":
            section = info.get("program")
            for k in ("host", "program", "pid"):
                if info.get(k):
                    meta[k] = info[k]
        else:
            section = info.get("component") or info.get("level")
            if info.get("level"):
                meta["level"] = info["level"]
        blocks.append(Block(text=body, kind="event", record_index=idx, line_start=ev["start"],
                            line_end=ev["end"], ts_start=ev["ts"], ts_end=ev["ts"], section=section,
                            meta=meta))
    return RecordStream(kind, blocks)
