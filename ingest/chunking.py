"""Structure-aware chunking with size bounds; every chunk is an exact slice of the document text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from ingest.records import Block

CHUNKER_VERSION = "chunk-v1"
TARGET_CHARS = 900    # ~200 MiniLM tokens of prose; the model reads 256
MAX_CHARS = 1200
MIN_CHARS = 200
EVENT_TARGET_CHARS = 700   # log lines are token-dense
EVENT_WINDOW_MAX = 40
EVENT_GAP_SECONDS = 15 * 60
SEP = "\n\n"
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass
class ChunkSpec:
    idx: int
    text: str
    char_start: int
    char_end: int
    kind: str
    page: int | None = None
    record_start: int | None = None
    record_end: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    ts_start: datetime | None = None
    ts_end: datetime | None = None
    section: str | None = None
    meta: dict = field(default_factory=dict)


def chunk_id(tenant_id: str, doc_sha256: str, idx: int, version: str = CHUNKER_VERSION) -> str:
    """Deterministic id: the same document, chunker and position always give the same chunk (and vector)."""
    return hashlib.sha256(f"{tenant_id}:{doc_sha256}:{version}:{idx}".encode()).hexdigest()[:40]


def _split_long(text: str, limit: int) -> list[tuple[int, int]]:
    """Spans of text no longer than limit, cut at sentence or line ends where possible."""
    spans, start = [], 0
    while len(text) - start > limit:
        window = text[start:start + limit]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window) if m.end() >= limit // 2), default=0)
        if not cut:
            ws = window.rfind(" ")
            cut = ws + 1 if ws > limit // 2 else limit
        spans.append((start, start + cut))
        start += cut
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


SECTION_MAX_CHARS = 200   # core.models.Chunk.section holds 500


def _section(value) -> str | None:
    """A storable section label: a string of at most SECTION_MAX_CHARS (a record's id or event name can be any
    JSON value of any size: a dict failed the chunk insert on SQLite, a long string on PostgreSQL)."""
    if value is None:
        return None
    s = value if isinstance(value, str) else str(value)
    if len(s) > SECTION_MAX_CHARS:
        s = s[: SECTION_MAX_CHARS - 1] + "…"
    return s or None


def _minmax(values):
    vals = [v for v in values if v is not None]
    return (min(vals), max(vals)) if vals else (None, None)


def _group_key(b: Block) -> tuple:
    # a chunk never spans two PDF pages of prose or two sheets of a workbook (line numbers are per sheet)
    return (b.kind, b.page if b.kind == "text" else None, b.meta.get("sheet"))


def chunk_blocks(blocks: list[Block]) -> tuple[str, list[ChunkSpec]]:
    """Lay blocks out as one document text and cut it into bounded chunks that respect structure.

    Prose merges paragraphs up to the target size without crossing pages; each ticket or row stays whole when it
    fits; consecutive log events form windows bounded by size, count and time gaps.
    """
    parts, offsets, pos = [], [], 0
    for b in blocks:
        t = b.text.strip()
        offsets.append((pos, pos + len(t)))
        parts.append(t)
        pos += len(t) + len(SEP)
    doc_text = SEP.join(parts)

    chunks: list[ChunkSpec] = []
    group: list[int] = []

    def emit(members: list[int]) -> None:
        if not members:
            return
        bs = [blocks[i] for i in members]
        start, end = offsets[members[0]][0], offsets[members[-1]][1]
        rec_lo, rec_hi = _minmax(b.record_index for b in bs)
        line_lo, _ = _minmax(b.line_start for b in bs)
        _, line_hi = _minmax(b.line_end if b.line_end is not None else b.line_start for b in bs)
        ts_lo, _ = _minmax(b.ts_start for b in bs)
        _, ts_hi = _minmax(b.ts_end or b.ts_start for b in bs)
        section = _section(next((b.section for b in bs if b.section), None))
        base = dict(kind=bs[0].kind, page=bs[0].page, record_start=rec_lo, record_end=rec_hi,
                    line_start=line_lo, line_end=line_hi, ts_start=ts_lo, ts_end=ts_hi, section=section,
                    meta=dict(bs[0].meta) if len(bs) == 1 else {"blocks": len(bs)})
        limit = EVENT_TARGET_CHARS * 2 if bs[0].kind == "event" else MAX_CHARS
        for a, b in _split_long(doc_text[start:end], limit):
            chunks.append(ChunkSpec(idx=len(chunks), text=doc_text[start + a:start + b],
                                    char_start=start + a, char_end=start + b, **base))

    size = 0
    for i, b in enumerate(blocks):
        length = offsets[i][1] - offsets[i][0]
        if group:
            prev = blocks[group[-1]]
            target = EVENT_TARGET_CHARS if b.kind == "event" else TARGET_CHARS
            gap = (b.ts_start - (prev.ts_end or prev.ts_start)).total_seconds() \
                if b.ts_start and (prev.ts_end or prev.ts_start) else 0
            new_section = b.kind == "text" and b.meta.get("category") == "Title" and size >= MIN_CHARS
            full = size + length > target or (b.kind == "event" and len(group) >= EVENT_WINDOW_MAX)
            # a whole ticket or row is a unit: only tiny ones share a chunk
            record_break = b.kind == "record" and (size >= MIN_CHARS or length >= MIN_CHARS)
            if (_group_key(b) != _group_key(prev) or full or new_section or record_break
                    or (b.kind == "event" and abs(gap) > EVENT_GAP_SECONDS)):
                emit(group)
                group, size = [], 0
        group.append(i)
        size += length + len(SEP)
    emit(group)
    return doc_text, chunks
