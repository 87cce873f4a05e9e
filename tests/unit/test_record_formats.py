"""Contract test for every record format in the registry (ingest/records/registry.py).

Each format carries a small representative `example`; registering a format is enough for it to be tested
here: split_records must pick that format for its example and return well-formed blocks, and damaged
variants of the example must not raise anything but the documented ValueError for broken JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import timedelta

import pytest

from ingest.records import Block, RecordStream, split_records
from ingest.records.base import Container, Example, RecordFormat, RecordKind
from ingest.records.registry import FORMATS, formats

JSON_CONTAINERS = {Container.JSON_EVENTS, Container.JSON_TICKETS, Container.JSON_ARRAY, Container.JSON_LINES}
BY_FORMAT = pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])


def source_lines(text: str) -> list[str]:
    return text.split("\n")


def truncated(text: str) -> str:
    return text[: len(text) // 2]


def garbled(text: str) -> str:
    """Every 7th character replaced by JSON/CSV/log punctuation, deterministically."""
    chars = list(text)
    noise = '"{}[],:\n|'
    for i in range(3, len(chars), 7):
        chars[i] = noise[i % len(noise)]
    return "".join(chars)


def check_stream_shape(rs: RecordStream, text: str) -> None:
    """Blocks of any stream: Block instances whose line ranges lie inside the input."""
    n_lines = len(source_lines(text))
    for b in rs.blocks:
        assert isinstance(b, Block)
        if b.line_start is not None or b.line_end is not None:
            assert b.line_start is not None and b.line_end is not None
            assert 1 <= b.line_start <= b.line_end <= n_lines
        if getattr(b, "char_start", None) is not None:         # Blocks carry no character offsets today
            assert 0 <= b.char_start <= b.char_end <= len(text)
        json.dumps(b.meta)                                      # JSON-safe


def check_line_range_maps_back(fmt: RecordFormat, b: Block, text: str) -> None:
    """The block's line range holds exactly its record in the source."""
    src = source_lines(text)
    chunk = "\n".join(src[b.line_start - 1:b.line_end])
    if fmt.container in JSON_CONTAINERS:
        assert isinstance(json.loads(chunk.strip().rstrip(",")), dict)
    elif fmt.container is Container.CSV:
        header = next(ln for ln in src if ln.strip())
        delim = max(",;\t|", key=header.count)
        rows = csv.reader(io.StringIO(chunk + "\n"), delimiter=delim)
        assert len([r for r in rows if any(c.strip() for c in r)]) == 1
    elif fmt.container is Container.LOG_LINES:
        assert b.text == "\n".join(ln.rstrip() for ln in src[b.line_start - 1:b.line_end]).strip()
        assert any(f.detect(src[b.line_start - 1]) is not None for f in formats(Container.LOG_LINES))


# ------------------------------------------------------------------------------------------------------------
# The registry itself

def test_format_names_are_unique():
    names = Counter(f.name for f in FORMATS)
    assert not [n for n, c in names.items() if c > 1]


def test_every_record_kind_is_registered():
    assert all(isinstance(f.kind, RecordKind) for f in FORMATS)
    assert {f.kind for f in FORMATS} == set(RecordKind)


def test_fallbacks_are_registered():
    assert formats(Container.JSON_ARRAY) and formats(Container.JSON_LINES)


@BY_FORMAT
def test_format_is_well_declared(fmt: RecordFormat):
    assert fmt.name and isinstance(fmt.container, Container)
    assert callable(fmt.detect) and callable(fmt.render)
    assert isinstance(fmt.example, Example) and fmt.example.text.strip()
    if fmt.wrapper is not None:
        assert fmt.container in (Container.JSON_EVENTS, Container.JSON_TICKETS)
    if fmt.finish is not None:
        assert fmt.container is Container.LOG_LINES


# ------------------------------------------------------------------------------------------------------------
# Each format's example

@BY_FORMAT
def test_example_is_split_as_this_format(fmt: RecordFormat):
    ex = fmt.example
    rs = split_records(ex.text, ex.media)

    assert isinstance(rs, RecordStream)
    assert rs.kind == fmt.kind.value and type(rs.kind) is str
    records = [b for b in rs.blocks if b.kind in ("record", "event")]
    assert records and all(b.text.strip() for b in rs.blocks)
    check_stream_shape(rs, ex.text)
    indexes = [b.record_index for b in records]
    assert all(isinstance(i, int) and i >= 0 for i in indexes) and len(set(indexes)) == len(indexes)
    for b in records:
        assert b.page is None
        assert b.line_start is not None, "every record of a text export has a source line range"
        check_line_range_maps_back(fmt, b, ex.text)


@BY_FORMAT
def test_example_timestamps_are_parsed(fmt: RecordFormat):
    ex = fmt.example
    if not ex.timestamped:
        pytest.skip(f"the {fmt.name} example has no timestamps")
    records = [b for b in split_records(ex.text, ex.media).blocks if b.kind in ("record", "event")]
    for b in records:
        assert b.ts_start is not None and b.ts_end is not None
        for ts in (b.ts_start, b.ts_end):
            assert ts.utcoffset() == timedelta(0)
        assert b.ts_start <= b.ts_end


@BY_FORMAT
@pytest.mark.parametrize("damage", [truncated, garbled], ids=["truncated", "garbled"])
def test_damaged_example_does_not_raise(fmt: RecordFormat, damage):
    text = damage(fmt.example.text)
    # As its own media type: a stream, None, or the documented ValueError for unparseable JSON / JSON Lines.
    try:
        rs = split_records(text, fmt.example.media)
    except ValueError:
        assert fmt.example.media in ("application/json", "application/x-ndjson")
    else:
        assert rs is None or isinstance(rs, RecordStream)
        if rs is not None:
            check_stream_shape(rs, text)
    # As plain text (a .log or .txt upload) nothing raises.
    rs = split_records(text, "text/plain")
    assert rs is None or isinstance(rs, RecordStream)
    if rs is not None:
        check_stream_shape(rs, text)
