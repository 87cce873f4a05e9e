"""Fakes for unit tests: an embedder and a vector store with the real ones' contracts, no model and no I/O.

Both pass the same contract tests as the real components (tests/service/test_store_contracts.py runs one suite
over each pair), so a unit test built on them tests logic the real system would run the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from core.embedder import DIMENSION
from core.vectors import clean_metadata

_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Deterministic bag-of-words vectors: each word hashes to a few dimensions; L2-normalised, float32.

    Texts sharing words are close (cosine = dot product), texts sharing none are near-orthogonal — the property
    retrieval needs, without a model."""

    id = "fake-embedder@1"
    dimension = DIMENSION

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                for k in range(3):
                    sign = 1.0 if digest[6] & (1 << k) else -1.0
                    out[row, (digest[k * 2] << 8 | digest[k * 2 + 1]) % DIMENSION] += sign
            norm = np.linalg.norm(out[row])
            if norm == 0:
                out[row, 0] = 1.0  # the real model also gives every text, even an empty one, a unit vector
            else:
                out[row] /= norm
        return out



class InMemoryVectorStore:
    """The VectorStore contract (core/vectors.py) over dicts: one collection per tenant, cosine distance."""

    embedded = False

    def __init__(self) -> None:
        self._data: dict[str, dict[str, tuple[np.ndarray, dict, str | None]]] = {}

    def _col(self, tenant_id: str) -> dict:
        return self._data.setdefault(tenant_id, {})

    def upsert(self, tenant_id: str, ids: Sequence[str], embeddings: np.ndarray, metadatas: list[dict],
               documents: list[str] | None = None, batch: int = 2000) -> None:
        if len(ids) == 0:
            return
        if embeddings.shape != (len(ids), DIMENSION):
            raise ValueError(f"embeddings shape {embeddings.shape} does not match {len(ids)} ids")
        col = self._col(tenant_id)
        for i, vid in enumerate(ids):  # metadata cleaned as the real store cleans it
            col[vid] = (np.asarray(embeddings[i], dtype=np.float32), clean_metadata(metadatas[i]),
                        documents[i] if documents else None)

    def ids(self, tenant_id: str, *, document_id: str | None = None) -> set[str]:
        return {vid for vid, (_, meta, _) in self._col(tenant_id).items()
                if document_id is None or meta.get("document_id") == document_id}

    def embeddings(self, tenant_id: str, ids: list[str]) -> dict[str, np.ndarray]:
        col = self._col(tenant_id)
        return {i: col[i][0] for i in ids if i in col}

    def owners(self, tenant_id: str, ids: Sequence[str]) -> dict[str, str | None]:
        col = self._col(tenant_id)
        return {i: col[i][1].get("document_id") for i in ids if i in col}

    def delete(self, tenant_id: str, ids: Sequence[str]) -> None:
        col = self._col(tenant_id)
        for i in ids:
            col.pop(i, None)

    def query(self, tenant_id: str, embedding: np.ndarray, k: int = 10, where: dict | None = None) -> list[dict]:
        rows = [(vid, vec, meta, doc) for vid, (vec, meta, doc) in self._col(tenant_id).items()
                if not where or all(meta.get(key) == value for key, value in where.items())]
        q = np.asarray(embedding, dtype=np.float32)
        scored = sorted(((1.0 - float(np.dot(vec, q) / (np.linalg.norm(vec) * np.linalg.norm(q) or 1.0)), vid, meta,
                          doc) for vid, vec, meta, doc in rows), key=lambda r: (r[0], r[1]))
        return [{"id": vid, "distance": d, "metadata": meta, "document": doc} for d, vid, meta, doc in scored[:k]]

    def count(self, tenant_id: str) -> int:
        return len(self._col(tenant_id))

    def heartbeat(self) -> int:
        return 1

    def close(self) -> None:
        pass
