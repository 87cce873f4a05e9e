"""JSON and JSON Lines parsing that keeps where each record sits: character spans and 1-based line numbers."""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

_WS = " \t\n\r"
# Deeper JSON is refused as malformed. Real exports nest under 20 levels (Jira's ADF bodies are the deepest); every
# walker over a parsed record (renderers, flattening, repr, the sandbox's JSON reply) recurses once per level, and
# a record near the parser's own limit made them hit Python's recursion limit.
MAX_JSON_DEPTH = 200


def too_deep(obj: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests containers more than `limit` levels deep (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, dict):
            x = x.values()
        elif not isinstance(x, list):
            continue
        if d > limit:
            return True
        stack.extend((v, d + 1) for v in x if isinstance(v, (dict, list)))
    return False


def loads(s: str) -> Any:
    """json.loads for untrusted text: ValueError (never RecursionError) for invalid or too deeply nested JSON."""
    try:
        obj = json.loads(s)
    except RecursionError:
        raise ValueError("JSON nesting is too deep") from None
    if too_deep(obj):
        raise ValueError(f"JSON nesting is deeper than {MAX_JSON_DEPTH} levels")
    return obj


class Lines:
    """Map character offsets to 1-based line numbers."""

    def __init__(self, text: str):
        self._nl = [m.start() for m in re.finditer("\n", text)]
        first = len(text) - len(text.lstrip())
        last = max(len(text.rstrip()) - 1, first)
        self.content = (self.line(first), self.line(last))      # lines holding the first/last non-blank char

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self._nl, offset) + 1


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


def _scan_object(text: str, i: int, dec: json.JSONDecoder,
                 spans: dict[str | None, list[tuple[int, int]]]) -> tuple[dict, int]:
    """The top-level object starting at text[i] == "{", recording the element spans of its array members."""
    doc = {}
    i = _skip_ws(text, i + 1)
    if text[i] == "}":
        return doc, i + 1
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
            return doc, i + 1
        else:
            raise ValueError("bad object")


def scan_json(text: str) -> tuple[Any, dict[str | None, list[tuple[int, int]]]]:
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
            doc, end = _scan_object(text, i, dec, spans)
        else:
            raise ValueError("not a container")
        if _skip_ws(text, end) != len(text):
            raise ValueError("trailing data")
    except (ValueError, IndexError, RecursionError):
        # Let the C parser give the authoritative verdict (and its error message).
        return loads(text), {}
    if too_deep(doc):
        raise ValueError(f"JSON nesting is deeper than {MAX_JSON_DEPTH} levels")
    return doc, spans


def parse_jsonl(text: str) -> tuple[list[tuple[int, dict]], int, int]:
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
            obj = loads(s)
        except ValueError:
            bad += 1
            continue
        if isinstance(obj, dict):
            good.append((lineno, obj))
        else:
            bad += 1
    return good, bad, nonempty
