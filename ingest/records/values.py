"""Values: compact scalar formatting, flattening nested objects, key=value rendering and label lookups."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

MAX_VALUE_CHARS = 240            # longer scalar values are truncated in key=value renderings
SKIP_VALUE_CHARS = 2000          # longer values (blobs, base64) are left out entirely

_HMAC_RE = re.compile(r"\b(hmac-sha(?:256|512|1):)([0-9a-fA-F]{8})[0-9a-fA-F]{24,}")
_LONG_HEX_RE = re.compile(r"\b([0-9a-fA-F]{12})[0-9a-fA-F]{44,}\b")


def clean_str(s: str, limit: int = MAX_VALUE_CHARS) -> str:
    s = _HMAC_RE.sub(r"\1\2…", s)
    if len(s) > 56:
        s = _LONG_HEX_RE.sub(r"\1…", s)
    if len(s) > limit:
        s = s[:limit].rstrip() + "…"
    return s


def fmt_val(v: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    """A scalar (or list of scalars) as a compact value; None for empty or oversized values."""
    if v is None or v == "" or v == [] or v == {}:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        parts = [p for p in (fmt_val(x, limit) for x in v if not isinstance(x, (dict, list))) if p]
        return clean_str(",".join(parts), limit) if parts else None
    if isinstance(v, str):
        if len(v) > SKIP_VALUE_CHARS:
            return None
        s = clean_str(" ".join(v.split()), limit)
        if " " in s or s == "":
            return f"'{s}'" if '"' in s else f'"{s}"'
        return s
    return None


def flatten(obj: Any, prefix: str = "", skip: Callable[[str], bool] | None = None, depth: int = 0,
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
                flatten(v, key, skip, depth + 1, out)
            elif isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
                for i, x in enumerate(v[:20]):
                    if isinstance(x, (dict, list)):
                        flatten(x, f"{key}.{i}", skip, depth + 1, out)
                    else:
                        fv = fmt_val(x)
                        if fv is not None:
                            out.append((f"{key}.{i}", fv))
            else:
                fv = fmt_val(v)
                if fv is not None:
                    out.append((key, fv))
    elif isinstance(obj, list):
        for i, x in enumerate(obj[:20]):
            flatten(x, f"{prefix}.{i}" if prefix else str(i), skip, depth + 1, out)
    else:
        fv = fmt_val(obj)
        if fv is not None and prefix:
            out.append((prefix, fv))
    return out


def kv(pairs: Iterable[tuple[str, str]], limit: int | None = None) -> str:
    s = " ".join(f"{k}={v}" for k, v in pairs)
    if limit and len(s) > limit:
        s = s[:limit].rstrip() + "…"
    return s


def as_dict(v: Any) -> dict:
    """v if it is an object, else {}: a record member of the wrong type reads as absent, not as a crash."""
    return v if isinstance(v, dict) else {}


def as_list(v: Any) -> list:
    """v if it is an array, else []."""
    return v if isinstance(v, list) else []


def get(d: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return default
        d = d.get(p)
    return default if d is None else d


def label(v: Any) -> str | None:
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


def joined(items: Any, sep: str = ", ") -> str | None:
    if not isinstance(items, list):
        return label(items)
    parts = [p for p in (label(x) for x in items) if p]
    return sep.join(parts) if parts else None


def short_ua(ua: Any, tokens: int = 1) -> str | None:
    if not isinstance(ua, str) or not ua:
        return None
    return " ".join(ua.split()[:tokens])[:120]
