"""Running the extractors: sightings attached to each record's Block while records are split, then collected
per document with their provenance.

    attach(block, extractor, raw)   the dispatcher, after rendering one record: the format's extractor on the
                                    raw record (or the text scanner on the block's text when the format has
                                    none) -> block.meta["nhi"] as a list of dicts
    collect(blocks)                 the partitioner, once per document: pops meta["nhi"] from every block (so
                                    chunks and vector metadata never see it), fills record_index / line_start /
                                    line_end / at from the block where an extractor left them empty, resolves
                                    PENDING identities and carries a person's use of a credential to the other
                                    sightings of the same credential -> a list of dicts
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from .model import PENDING, Sighting
from .text import prose, scan

log = logging.getLogger("clausewise.ingest.nhi")

META_KEY = "nhi"
LINK = "~"                   # an alias that is a lookup key for PENDING sightings; collect removes it
_FAILED: set[str] = set()    # extractors whose failure was logged with its traceback


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


def run(extractor: Callable[..., list[Sighting]] | None, raw: Sequence[Any], text: str) -> list[Sighting]:
    """The format's extractor on the raw record, or the text scanner on the rendered text; never raises."""
    try:
        if extractor is None:
            return scan(text)
        return extractor(*raw) or []
    except Exception as e:   # noqa: BLE001 - identity extraction never fails a document's ingestion
        name = getattr(extractor, "__module__", "text")
        log.warning("identity extraction failed on a record (%s): %s: %s", name, type(e).__name__, e,
                    exc_info=name not in _FAILED)
        _FAILED.add(name)
        return []


def attach(block: Any, extractor: Callable[..., list[Sighting]] | None, raw: Sequence[Any]) -> None:
    """Attach the record's sightings to its block as meta["nhi"] (nothing when there are none)."""
    found = run(extractor, raw, block.text)
    if found:
        block.meta[META_KEY] = [s.compact() for s in found]


def collect(blocks: Iterable[Any], extra: Iterable[dict] = ()) -> list[dict]:
    """Every block's sightings (popped from its meta) with provenance, plus `extra` ones found outside blocks.

    The dicts are compact: fields at their default value (None, False, no aliases, actor True) are left out,
    so read them with d.get(...) or model.full(d) / Sighting.from_dict(d)."""
    out: list[dict] = []
    for b in blocks:
        meta = b.meta
        items = meta.pop(META_KEY, None) if meta and isinstance(meta, dict) else None
        if not items:
            continue
        at = iso(b.ts_start)
        ri, ls, le = b.record_index, b.line_start, b.line_end
        for d in items:              # extractors leave provenance to the block (only `at` may differ)
            d["record_index"], d["line_start"], d["line_end"] = ri, ls, le
            if "at" not in d:
                d["at"] = at
        out.extend(items)
    out.extend(extra)
    return finish(out)


def from_document(blocks: Iterable[Any]) -> list[dict]:
    """Identities a document that is not split into records names (a policy, a runbook, an inventory table, a
    generic CSV or JSON export): structural mentions in each block and names given with their kind. Mentions,
    not uses: no actor, `at` is the block's time if it has one."""
    out: list[dict] = []
    for b in blocks:
        text = b.text
        if not text:
            continue
        found = scan(text, actor=False, action="mentioned in the document")
        found += prose(text, found, action="named in the document")
        if not found:
            continue
        at = iso(b.ts_start)
        for s in found:
            d = s.compact()
            d["record_index"], d["line_start"], d["line_end"] = b.record_index, b.line_start, b.line_end
            d.setdefault("at", at)
            out.append(d)
    return finish(out)


def from_text(text: str) -> list[dict]:
    """from_document over a plain text's paragraphs (runs of non-blank lines, so a table stays whole), each with
    its line numbers."""
    paras, start, buf = [], None, []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            if start is None:
                start = n
            buf.append(line)
        elif buf:
            paras.append(_Para("\n".join(buf), start, n - 1))
            start, buf = None, []
    if buf:
        paras.append(_Para("\n".join(buf), start, start + len(buf) - 1))
    return from_document(paras)


class _Para:
    __slots__ = ("text", "line_start", "line_end")
    ts_start = record_index = None

    def __init__(self, text: str, line_start: int | None, line_end: int | None) -> None:
        self.text, self.line_start, self.line_end = text, line_start, line_end


def finish(items: list[dict]) -> list[dict]:
    """Resolve PENDING identities, carry a person's use of a credential to its other sightings, drop link keys."""
    pending = linked = False
    used_by: dict[str, str | None] = {}
    for d in items:
        if d["identity"][:1] == PENDING:
            pending = True
        aliases = d.get("aliases")
        if aliases and not linked:
            linked = any(a[:1] == LINK for a in aliases)
        if d.get("human_use") and d.get("credential"):
            used_by.setdefault(d["credential"], d.get("human"))
    if pending:
        items = _resolve(items)
    # A credential a person minted or used (an AssumeRole session, a token request) is that person's use
    # wherever else the document shows it.
    if used_by:
        for d in items:
            cred = d.get("credential")
            if cred in used_by and not d.get("human_use"):
                d["human_use"] = True
                d["human"] = d.get("human") or used_by[cred]
    if linked:
        for d in items:
            if d.get("aliases"):
                d["aliases"] = [a for a in d["aliases"] if a[:1] != LINK]
    return items


def _resolve(items: list[dict]) -> list[dict]:
    """PENDING identities replaced by the identity another sighting ties to the same key; unresolved dropped."""
    links: dict[str, dict] = {}
    for d in items:
        if d["identity"][:1] == PENDING:
            continue
        for a in d.get("aliases") or ():
            if a[:1] == LINK:
                links.setdefault(a[1:], d)
        if d.get("credential"):
            links.setdefault("cred:" + d["credential"], d)
        if d["kind"] == "k8s_service_account" and d.get("workload"):
            ns = d["identity"].split(":")[2] if d["identity"].count(":") == 3 else ""
            links.setdefault(f"pod:{ns}/{d['workload']}", d)
    resolved = []
    for d in items:
        if d["identity"][:1] == PENDING:
            target = links.get(d["identity"][1:]) or _by_pod_name(d["identity"][1:], items)
            if target is None:
                continue
            d["identity"], d["kind"], d["provider"] = target["identity"], target["kind"], target["provider"]
        resolved.append(d)
    return resolved


def _by_pod_name(key: str, items: list[dict]) -> dict | None:
    """'pod:NS/POD' -> the service account of namespace NS whose name starts the pod's name (a Deployment's pods
    are named <deployment>-<hash>-<id>, and the service account usually after the Deployment); the longest
    such name wins."""
    if not key.startswith("pod:") or "/" not in key:
        return None
    ns, pod = key[4:].split("/", 1)
    prefix = f"system:serviceaccount:{ns}:"
    best = None
    for d in items:
        ident = d["identity"]
        if d["kind"] == "k8s_service_account" and ident.startswith(prefix):
            name = ident[len(prefix):]
            if pod.startswith(name + "-") and (best is None or len(name) > len(best["identity"]) - len(prefix)):
                best = d
    return best
