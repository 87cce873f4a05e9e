"""split_records and its paths (JSON documents, JSON Lines, CSV, plain text), driven by the registry."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from ingest.nhi import extract as nhi
from ingest.nhi import text as nhi_text

from .base import Block, Container, CsvTable, LogEvent, RecordFormat, RecordStream
from .jsonscan import Lines, parse_jsonl, scan_json
from .registry import fallback, formats
from .timestamps import parse_ts

# ------------------------------------------------------------------------------------------------------------
# Media types

_JSON_MEDIA = {"application/json", "text/json"}
_JSONL_MEDIA = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
                "application/jsonlines", "application/json-lines", "application/json-seq"}
_CSV_MEDIA = {"text/csv", "application/csv"}
_PLAIN_MEDIA = {"text/plain", "text/x-log"}

CSV_FIELD_LIMIT = 16 * 1024 * 1024   # csv's default (128 KiB) refuses long free-text cells of real exports
LOG_MIN_PARSED_RATIO = 0.6       # share of non-empty lines that must carry a recognised timestamp
LOG_MIN_PARSED_SHARE_OF_ALL = 0.25
# Lines that plainly continue a multi-line event (stack traces): they join the previous event and do not count
# against the share of timestamped lines.
_TRACE_RE = re.compile(r"^(?:\s|Traceback \(most recent call last\)|Caused by[: ]|During handling of|"
                       r"The above exception|\.\.\. \d+ more|[\w.$]+(?:Error|Exception|Warning)\b)")

LineRange = Callable[[int], tuple[Any, Any]]

# Each rendered record's machine identities go to block.meta["nhi"] (ingest/nhi); the partitioner collects them.
EXTRACT_IDENTITIES = True


def split_records(text: str, media: str) -> RecordStream | None:
    """Split a ticket/log export into records.

    media is one of "application/json", "application/x-ndjson", "text/csv", "text/plain" (also used for .log).
    Return a RecordStream when the content is a recognised ticket/log shape, else None (the caller then treats
    it as prose). Raise ValueError only for content that claims to be JSON/JSONL but cannot be parsed at all.
    """
    media = (media or "").split(";", 1)[0].strip().lower()
    if text.startswith("\ufeff"):
        text = text[1:]
    scope = nhi_text.document_scope(text)
    try:
        if media in _JSON_MEDIA:
            return _from_json_text(text, claims_jsonl=False)
        if media in _JSONL_MEDIA:
            return _from_json_text(text, claims_jsonl=True)
        if media in _CSV_MEDIA:
            return _from_csv(text)
        if media in _PLAIN_MEDIA:
            return _from_plain(text)
        return None
    finally:
        nhi_text.end_document_scope(scope)


def _stream(fmt: RecordFormat, blocks: list[Block]) -> RecordStream:
    return RecordStream(fmt.kind.value, blocks)


def _render(fmt: RecordFormat, *raw: Any) -> Block:
    """fmt.render(*raw), with the identities the record shows attached to the block (ingest.nhi.extract)."""
    b = fmt.render(*raw)
    if EXTRACT_IDENTITIES:
        extractor = fmt.identities
        if extractor is None:
            found = nhi_text.scan(b.text)
        else:
            found = nhi.run(extractor, raw, b.text)
        if fmt.prose:
            where = f"mentioned in {b.section}" if b.section else "mentioned in a ticket"
            found = found + nhi.run(partial(nhi_text.prose, action=where), (b.text, found), b.text)
        if found:
            b.meta[nhi.META_KEY] = [s.compact() for s in found]
    return b


# ------------------------------------------------------------------------------------------------------------
# JSON / JSON Lines

def _from_json_text(text: str, *, claims_jsonl: bool) -> RecordStream | None:
    if not text.strip():
        raise ValueError("empty JSON document")
    if claims_jsonl:
        good, bad, nonempty = parse_jsonl(text)
        if good and bad * 2 <= nonempty:
            return _from_jsonl_objects(good)
        try:                                   # a pretty-printed JSON document behind a .jsonl name
            doc, spans = scan_json(text)
        except ValueError:
            raise ValueError(f"{bad} of {nonempty} non-empty lines are not JSON objects") from None
        return _from_json_doc(doc, spans, Lines(text))
    try:
        doc, spans = scan_json(text)
    except ValueError as e:
        good, bad, nonempty = parse_jsonl(text)   # JSON Lines behind a .json name
        if len(good) >= 2 and bad * 2 <= nonempty:
            return _from_jsonl_objects(good)
        raise ValueError(f"invalid JSON: {e}") from None
    return _from_json_doc(doc, spans, Lines(text))


def _majority(objs: list[dict], candidates: tuple[RecordFormat, ...]) -> RecordFormat | None:
    """The candidate that recognises the most objects (ties: the first), if it recognises at least half."""
    sample = objs if len(objs) <= 200 else objs[:100] + objs[-100:]
    best, best_n = None, 0
    for fmt in candidates:
        n = sum(1 for o in sample if fmt.detect(o))
        if n > best_n:
            best, best_n = fmt, n
    return best if best_n * 2 >= len(sample) else None


def _render_object(fmt: RecordFormat, obj: dict, parent: dict | None, fb: RecordFormat) -> Block:
    """obj rendered by the stream's format when it recognises it, else by the fallback."""
    if fmt.detect(obj):
        return _render(fmt, obj, parent)
    return _render(fb, obj, None)


def _from_jsonl_objects(good: list[tuple[int, dict]]) -> RecordStream:
    fb = fallback(Container.JSON_LINES)
    fmt = _majority([o for _, o in good], formats(Container.JSON_EVENTS)) or fb
    blocks = []
    for idx, (lineno, obj) in enumerate(good):
        b = _render_object(fmt, obj, None, fb)
        b.record_index, b.line_start, b.line_end = idx, lineno, lineno
        blocks.append(b)
    return _stream(fmt, blocks)


def _from_json_doc(doc: Any, spans: dict, lines: Lines) -> RecordStream | None:
    def line_range(key: str | None, i: int) -> tuple[int | None, int | None]:
        sp = spans.get(key)
        if sp is None or i >= len(sp):
            return None, None
        a, b = sp[i]
        return lines.line(a), lines.line(b - 1)

    if isinstance(doc, dict):
        return _from_json_object(doc, line_range, lines.content)
    if isinstance(doc, list):
        return _from_json_array(doc, lambda i: line_range(None, i))
    return None


def _from_json_object(doc: dict, line_range: Callable[[str | None, int], tuple], whole: tuple[int, int]
                      ) -> RecordStream | None:
    """A JSON object: a ticket, a search result of tickets, a known wrapper around events, or one event."""
    for fmt in formats(Container.JSON_TICKETS):
        items = doc.get(fmt.wrapper) if fmt.wrapper else None
        if isinstance(items, list) and items and all(fmt.detect(x) for x in items if isinstance(x, dict)):
            blocks = []
            for i, obj in enumerate(x for x in items if isinstance(x, dict)):
                b = _render(fmt, obj, doc)
                b.record_index = i
                b.line_start, b.line_end = line_range(fmt.wrapper, i)
                blocks.append(b)
            return _stream(fmt, blocks)
        if fmt.detect(doc):
            b = _render(fmt, doc, None)
            b.record_index, (b.line_start, b.line_end) = 0, whole
            return _stream(fmt, [b])
    events = formats(Container.JSON_EVENTS)
    for fmt in events:                        # known wrappers around event arrays
        items = doc.get(fmt.wrapper) if fmt.wrapper else None
        if isinstance(items, list) and items and all(isinstance(x, dict) for x in items):
            if _majority(items, events) is fmt:
                return _event_array(fmt, items, lambda i, k=fmt.wrapper: line_range(k, i), doc)
    for fmt in events:                        # a single event object
        if fmt.detect(doc):
            return _event_array(fmt, [doc], lambda i: whole, None)
    return None


def _from_json_array(doc: list, line_range: LineRange) -> RecordStream | None:
    """A JSON array: events (majority vote), tickets of one format, or generic objects."""
    objs = [x for x in doc if isinstance(x, dict)]
    if not objs or len(objs) * 2 < len(doc):
        return None
    fmt = _majority(objs, formats(Container.JSON_EVENTS))
    if fmt:
        return _event_array(fmt, doc, line_range, None)
    for fmt in formats(Container.JSON_TICKETS):
        if _majority(objs, (fmt,)):
            blocks = []
            for i, obj in enumerate(doc):
                if isinstance(obj, dict) and fmt.detect(obj):
                    b = _render(fmt, obj, None)
                    b.record_index, (b.line_start, b.line_end) = i, line_range(i)
                    blocks.append(b)
            return _stream(fmt, blocks)
    fb = fallback(Container.JSON_ARRAY)
    blocks = []
    for i, obj in enumerate(doc):
        if isinstance(obj, dict):
            b = _render(fb, obj, None)
            b.record_index, (b.line_start, b.line_end) = i, line_range(i)
            if b.text:
                blocks.append(b)
    return _stream(fb, blocks) if blocks else None


def _event_array(fmt: RecordFormat, items: list, line_range: LineRange, parent: dict | None) -> RecordStream:
    fb = fallback(Container.JSON_ARRAY)
    blocks = []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            continue
        b = _render_object(fmt, obj, parent, fb)
        b.record_index = i
        b.line_start, b.line_end = line_range(i)
        blocks.append(b)
    # Exports such as `gcloud logging read` are newest first: lay events out chronologically (stable;
    # record_index keeps the original position).
    if any(b.ts_start for b in blocks):
        floor = datetime.min.replace(tzinfo=UTC)
        blocks.sort(key=lambda b: (b.ts_start is None, b.ts_start or floor, b.record_index))
    return _stream(fmt, blocks)


# ------------------------------------------------------------------------------------------------------------
# CSV exports

def _read_csv(text: str) -> CsvTable | None:
    """Header and non-blank rows with their source line ranges; None if this is not a delimited table."""
    lines = text.split("\n")
    header_line = next((ln for ln in lines if ln.strip()), "")
    if not header_line:
        return None
    delim = max(",;\t|", key=header_line.count)
    if header_line.count(delim) == 0:
        return None
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
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
    return CsvTable(header, rows)


def _from_csv(text: str) -> RecordStream | None:
    table = _read_csv(text)
    if table is None:
        return None
    for fmt in formats(Container.CSV):
        plan = fmt.detect(table)
        if plan is None:
            continue
        blocks = []
        for idx, (start, end, row) in enumerate(table.rows):
            b = _render(fmt, row, plan)
            b.record_index, b.line_start, b.line_end = idx, start, end
            blocks.append(b)
        return _stream(fmt, blocks)
    return None


# ------------------------------------------------------------------------------------------------------------
# Plain text: JSON content, line-oriented logs

def _from_plain(text: str) -> RecordStream | None:
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc, spans = scan_json(text)
        except ValueError:
            doc = None
        if doc is not None:
            return _from_json_doc(doc, spans, Lines(text))
        good, bad, nonempty = parse_jsonl(text)
        if good and len(good) >= LOG_MIN_PARSED_RATIO * nonempty:
            return _from_jsonl_objects(good)
    return _from_log_lines(text)


def _collect_events(lines: list[str], line_formats: tuple[RecordFormat, ...]
                    ) -> tuple[list[LogEvent], list[int], int, int]:
    """Events (a line some format claims, plus its continuation lines), preamble line numbers before the first
    event, the non-empty line count and the count of stack-trace continuation lines."""
    events: list[LogEvent] = []
    preamble: list[int] = []
    nonempty = trace = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        nonempty += 1
        for fmt in line_formats:
            info = fmt.detect(line)
            if info is not None:
                events.append(LogEvent(lineno, lineno, fmt, info, info.get("ts")))
                break
        else:
            if events:
                events[-1].end = lineno          # continuation (stack trace, wrapped message)
                if _TRACE_RE.match(line):
                    trace += 1
            else:
                preamble.append(lineno)
    return events, preamble, nonempty, trace


def _from_log_lines(text: str) -> RecordStream | None:
    lines = text.split("\n")
    line_formats = formats(Container.LOG_LINES)
    events, preamble, nonempty, trace = _collect_events(lines, line_formats)
    parsed = len(events)
    if not events or parsed < LOG_MIN_PARSED_RATIO * (nonempty - trace) \
            or parsed < LOG_MIN_PARSED_SHARE_OF_ALL * nonempty:
        return None
    counts = {fmt.name: 0 for fmt in line_formats}
    for ev in events:
        counts[ev.fmt.name] += 1
    kind = max(line_formats, key=lambda f: counts[f.name])    # ties: the format registered first
    for fmt in line_formats:
        if fmt.finish is not None:
            fmt.finish(events)
    blocks = []
    if preamble:
        a, b = preamble[0], preamble[-1]
        blocks.append(Block(text="\n".join(lines[a - 1:b]).strip(), kind="text", line_start=a, line_end=b))
    for idx, ev in enumerate(events):
        body = "\n".join(ln.rstrip() for ln in lines[ev.start - 1:ev.end]).strip()
        b = _render(ev.fmt, body, ev)
        b.record_index, b.line_start, b.line_end = idx, ev.start, ev.end
        blocks.append(b)
    return _stream(kind, blocks)


# ------------------------------------------------------------------------------------------------------------
# Identities in exports that are not split into records

def unsplit_identities(text: str, media: str) -> list[dict]:
    """Machine identities in an export split_records does not split (it returned None for it), read row by
    row with line numbers: CloudTrail `lookup-events` output (`{"Events": [{"CloudTrailEvent": "..."}]}`),
    GitHub issues exported as `{"issue": {...}, "comments": [...]}`, GitHub audit log CSV exports. The document
    is still chunked as it was; only its sightings (ingest.nhi, as compact dicts with provenance; see
    extract.collect) come from here."""
    from ingest.nhi.extract import finish, iso, run

    from .formats import cloudtrail, generic_json, github, github_audit

    media = (media or "").split(";", 1)[0].strip().lower()
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[dict] = []

    def emit(found: list, index: int | None, lines: tuple[Any, Any], at: str | None) -> None:
        for s in found:
            d = s.compact()
            d["record_index"] = index
            d["line_start"], d["line_end"] = lines
            if "at" not in d:
                d["at"] = at
            out.append(d)

    if media in _CSV_MEDIA:
        head = _read_csv("\n".join(text.split("\n", 2)[:2]))
        if head is None or github_audit.detect(head) is None:
            return []
        lines = text.split("\n")
        if any(ln.count('"') % 2 for ln in lines):       # quoted line breaks: read the whole table
            table = _read_csv(text)
            rows = list(enumerate(table.rows)) if table is not None else []
            cols = github_audit.detect(table) if table is not None else None
        else:                                            # one row a line: read only the lines worth reading
            table, cols = head, github_audit.detect(head)
            first = next(i for i, ln in enumerate(lines) if ln.strip())
            rows, idx = [], -1
            delim = max(",;\t|", key=lines[first].count)
            ai, ci = cols.names["action"], cols.names["actor"]
            k = max(ai, ci) + 1
            for lineno, ln in enumerate(lines[first + 1:], first + 2):
                if not ln.strip():
                    continue
                idx += 1
                lead = ln.split(delim, k)
                if len(lead) <= k - 1 or '"' in ln[:sum(len(x) + 1 for x in lead[:k])] or \
                        github_audit.worth_reading(lead[ai], lead[ci], ln):
                    cells = next(csv.reader([ln], delimiter=delim), [])
                    rows.append((idx, (lineno, lineno, cells)))
        if cols is not None:
            for idx, (start, end, row) in rows:
                emit(run(github_audit.identities, (row, cols), ""), idx, (start, end),
                     iso(github_audit.timestamp(row, cols)))
        return finish(out)
    if media not in _JSON_MEDIA and media not in _PLAIN_MEDIA:
        return []
    if not text.lstrip().startswith("{"):
        return []
    try:
        doc, spans = scan_json(text)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    lines = Lines(text)
    events = doc.get("Events")
    if isinstance(events, list) and events and all(isinstance(x, dict) and isinstance(x.get("CloudTrailEvent"), str)
                                                    for x in events):
        sp = spans.get("Events") or []
        for i, item in enumerate(events):
            rng = (lines.line(sp[i][0]), lines.line(sp[i][1] - 1)) if i < len(sp) else (None, None)
            at = iso(parse_ts(item.get("EventTime")))
            emit(run(cloudtrail.identities, (item, doc), ""), i, rng, at)
    elif isinstance(doc.get("issue"), dict) and isinstance(doc["issue"].get("title"), str):
        emit(run(github.identities, (doc, None), ""), 0, lines.content, None)
    else:          # objects under a member of no known format ({"value": [...]} of Graph, {"data": [...]}, ...)
        key = max((k for k, v in doc.items() if isinstance(v, list) and any(isinstance(x, dict) for x in v)),
                  key=lambda k: len(doc[k]), default=None)
        if key is not None:
            sp = spans.get(key) or []
            for i, item in enumerate(doc[key]):
                if isinstance(item, dict):
                    rng = (lines.line(sp[i][0]), lines.line(sp[i][1] - 1)) if i < len(sp) else (None, None)
                    emit(run(generic_json.identities, (item, doc), ""), i, rng, iso(generic_json.find_ts(item)[1]))
    return finish(out)
