"""Split ticket and log exports into records before chunking.

`split_records(text, media)` recognises the record-stream shapes that compliance evidence is exported in (Jira
and GitHub issues, ServiceNow CSV exports, cloud audit logs, Kubernetes and Vault audit devices, generic JSON
Lines, syslog and application logs) and returns one `Block` per ticket, row or event, rendered as compact
readable text for semantic search, with provenance: record index, 1-based source line range, UTC timestamps
and a section label. Anything else returns None and is treated as prose by the caller.

Only the standard library is used. Parsing is linear in the input: no fixture takes more than ~40 ms.

Layout:
    base.py         Block, RecordStream, RecordKind, Container, RecordFormat (+ Example, CsvTable, LogEvent)
    timestamps.py   timestamp parsing and rendering; values.py: value formatting, flattening, key=value
    jsonscan.py     JSON / JSON Lines parsing with line spans; logline.py: shared log-line patterns
    formats/        one module per format, each exposing a RecordFormat (detect, render, example)
    registry.py     FORMATS, the one ordered table of registered formats
    dispatch.py     split_records and the JSON document / JSON Lines / CSV / plain-text paths over FORMATS

Adding a format:
    1. Write ingest/records/formats/<name>.py with `detect` and `render` following the signatures its
       Container documents (base.py), and a small `Example`; expose `FORMAT = RecordFormat(...)`.
    2. Add a RecordKind value if the stream kind is new, and list FORMAT in registry.FORMATS (order matters
       within a container; see registry.py).
    3. Run tests/unit/test_record_formats.py: the contract test picks the new format up from the registry.
"""

from __future__ import annotations

from .base import Block, Container, Example, RecordFormat, RecordKind, RecordStream
from .dispatch import LOG_MIN_PARSED_RATIO, LOG_MIN_PARSED_SHARE_OF_ALL, split_records
from .registry import FORMATS
from .timestamps import utcnow as _utcnow  # noqa: F401  (the syslog year clock; tests pin it here)
from .values import MAX_VALUE_CHARS, SKIP_VALUE_CHARS

__all__ = ["Block", "RecordStream", "split_records", "RecordKind", "RecordFormat", "Container", "Example",
           "FORMATS", "LOG_MIN_PARSED_RATIO", "LOG_MIN_PARSED_SHARE_OF_ALL", "MAX_VALUE_CHARS",
           "SKIP_VALUE_CHARS"]
