"""Labelled evidence sets: JSON Lines of items with `text` or a `file` relative to the set, labels per framework."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABEL_KEYS = {"iso42001": "ISO-IEC-42001-2023", "nist_csf_2": "NIST-CSF-2.0", "nhi": "OWASP-NHI-TOP10-2025"}


@dataclass
class Item:
    id: str
    labels: dict[str, list[str]]
    primary: dict[str, str | None]
    source: str
    doc_type: str
    group: str
    texts: list[str]
    vectors: np.ndarray
    kind: str | None
    expect: str = "suggestions"
    # reviewer decisions on this item, if the set carries them: [{"framework", "control_id", "decision"}]
    decisions: list[dict] | None = None

    def labelled(self, key: str) -> bool:
        """Scored for this framework: it has labels, or it is known to evidence nothing at all."""
        return bool(self.labels.get(key)) or self.expect == "no_evidence"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _group(source: str) -> str:
    """Items from one repository or site share a group, so cross-validation never trains on a sibling."""
    m = re.search(r"github\.com/([^/]+/[^/]+)", source or "")
    return m.group(1) if m else (source or "")[:80]


def chunks_of_text(text: str) -> tuple[list[str], str | None]:
    from ingest.chunking import chunk_blocks
    from ingest.records import Block

    _, chunks = chunk_blocks([Block(text=p) for p in text.split("\n\n") if p.strip()])
    return [c.text for c in chunks], None


def chunks_of_file(path: Path) -> tuple[list[str], str | None]:
    from ingest import sniff as S
    from ingest.chunking import chunk_blocks
    from ingest.partition import partition

    data = path.read_bytes()
    claimed = S.claimed_type(path.name)
    sniffed = S.sniff(data[: S.SNIFF_BYTES], claimed=claimed, complete=len(data) <= S.SNIFF_BYTES)
    part = partition(path, sniffed.media_type, sniffed.encoding)
    _, chunks = chunk_blocks(part.blocks)
    return [c.text for c in chunks], part.kind


CACHE_DIR = Path.home() / ".cache" / "clausewise" / "eval"


def _ingest_code_hash() -> str:
    """Changes when any ingest code changes: cached chunks are only reused for the code that made them."""
    root = Path(__file__).resolve().parents[1] / "ingest"
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def _cached(key: str, make):
    """(texts, vectors, kind) from the cache, or made and stored; a damaged entry is made again."""
    path = CACHE_DIR / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                return meta["texts"], z["vectors"], meta["kind"]
        except (OSError, ValueError, KeyError):
            pass
    texts, vectors, kind = make()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, vectors=vectors, meta=np.array(json.dumps({"texts": texts, "kind": kind})))
    tmp.replace(path)
    return texts, vectors, kind


def load(path: Path, embedder, *, progress: bool = False, cache: bool = False) -> list[Item]:
    """Read a labelled set and turn each item into chunks and vectors the way ingestion would.

    Files of a realistic set (items with `file` and no `source`) are one group: the set's folder, one company
    and one writer. `cache` keeps each item's chunks and vectors in ~/.cache/clausewise/eval, keyed by its name
    and content, the embedding model and the ingest code (eval.ablation scores many variants of the same sets).
    """
    from ingest.partition import use_offline_nlp

    use_offline_nlp()
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    raw = [r for r in raw if r.get("expect", "suggestions") in ("suggestions", "no_evidence")]
    it = raw
    if progress:
        from tqdm import tqdm

        it = tqdm(raw, unit="item", desc="embed")
    items = []
    code = _ingest_code_hash() if cache else ""
    for n, r in enumerate(it):
        def make(r=r):
            texts, kind = chunks_of_file(path.parent / r["file"]) if r.get("file") else chunks_of_text(r["text"])
            return texts, embedder.embed(texts), kind

        if cache:
            content = (path.parent / r["file"]).read_bytes() if r.get("file") else r["text"].encode()
            name = (r.get("file") or "").encode()   # the name's extension is part of how a file is read
            key = hashlib.sha256(b"\0".join([embedder.id.encode(), code.encode(), name, content])).hexdigest()[:32]
            texts, vectors, kind = _cached(key, make)
        else:
            texts, vectors, kind = make()
        labels = {k: list(r.get("labels", {}).get(k) or []) for k in LABEL_KEYS}
        items.append(Item(id=r.get("id") or r.get("file") or str(n), labels=labels, primary=r.get("primary") or {},
                          source=r.get("source") or r.get("file", ""), doc_type=r.get("doc_type", ""),
                          group=_group(r["source"]) if r.get("source") else
                          (path.parent.name if r.get("file") else str(n)), texts=texts,
                          vectors=vectors, kind=kind, expect=r.get("expect", "suggestions"),
                          decisions=r.get("decisions")))
    return items
