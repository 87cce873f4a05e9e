"""Chroma vector store: one collection per tenant, our own vectors and metadata, embedded or server."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from urllib.parse import urlparse

import numpy as np

from core.embedder import DIMENSION

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
_SAFE = re.compile(r"[^a-zA-Z0-9._-]")


def collection_name(tenant_id: str, purpose: str = "chunks") -> str:
    """Server-derived collection name for a tenant; user input never names a collection."""
    return f"cw-{purpose}-{_SAFE.sub('', tenant_id)}"[:512]


class VectorStore:
    """Upsert, fetch, query and delete vectors. Never lets Chroma embed text itself."""

    def __init__(self, url: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        cs = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if url.startswith(("http://", "https://")):
            u = urlparse(url)
            self.client = chromadb.HttpClient(host=u.hostname, port=u.port or 8000, ssl=u.scheme == "https",
                                              settings=cs)
        else:
            self.client = chromadb.PersistentClient(path=url, settings=cs)
        self.url = url
        self._collections: dict[str, object] = {}

    def _collection(self, tenant_id: str, purpose: str = "chunks"):
        name = collection_name(tenant_id, purpose)
        col = self._collections.get(name)
        if col is None:
            col = self.client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
            self._collections[name] = col
        return col

    def upsert(self, tenant_id: str, ids: Sequence[str], embeddings: np.ndarray, metadatas: list[dict],
               documents: list[str] | None = None, batch: int = 2000) -> None:
        if len(ids) == 0:
            return
        if embeddings.shape != (len(ids), DIMENSION):
            raise ValueError(f"embeddings shape {embeddings.shape} does not match {len(ids)} ids")
        col = self._collection(tenant_id)
        for i in range(0, len(ids), batch):
            col.upsert(ids=list(ids[i:i + batch]), embeddings=embeddings[i:i + batch],
                       metadatas=[_clean(m) for m in metadatas[i:i + batch]],
                       documents=documents[i:i + batch] if documents else None)

    def ids(self, tenant_id: str, *, document_id: str | None = None) -> set[str]:
        col = self._collection(tenant_id)
        where = {"document_id": document_id} if document_id else None
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = col.get(where=where, include=[], limit=page, offset=offset)
            out.update(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page

    def embeddings(self, tenant_id: str, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (ids not in the store are absent from the result)."""
        got = self._collection(tenant_id).get(ids=ids, include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"])}

    def owners(self, tenant_id: str, ids: Sequence[str]) -> dict[str, str | None]:
        """The document id each vector was written for (from its metadata)."""
        out: dict[str, str | None] = {}
        col = self._collection(tenant_id)
        for i in range(0, len(ids), 5000):
            got = col.get(ids=list(ids[i:i + 5000]), include=["metadatas"])
            out.update({vid: (m or {}).get("document_id") for vid, m in zip(got["ids"], got["metadatas"])})
        return out

    def delete(self, tenant_id: str, ids: Sequence[str]) -> None:
        if ids:
            col = self._collection(tenant_id)
            for i in range(0, len(ids), 5000):
                col.delete(ids=list(ids[i:i + 5000]))

    def query(self, tenant_id: str, embedding: np.ndarray, k: int = 10, where: dict | None = None) -> list[dict]:
        col = self._collection(tenant_id)
        res = col.query(query_embeddings=[embedding], n_results=k, where=where,
                        include=["metadatas", "distances", "documents"])
        return [{"id": i, "distance": d, "metadata": m, "document": doc}
                for i, d, m, doc in zip(res["ids"][0], res["distances"][0], res["metadatas"][0],
                                        res["documents"][0] if res.get("documents") else [None] * len(res["ids"][0]))]

    def count(self, tenant_id: str) -> int:
        return self._collection(tenant_id).count()

    def heartbeat(self) -> int:
        return self.client.heartbeat()


def _clean(meta: dict) -> dict:
    """Chroma metadata accepts only scalars; drop None and stringify the rest."""
    out = {}
    for k, v in meta.items():
        if v is None:
            continue
        out[k] = v if isinstance(v, (str, int, float, bool)) else str(v)
    return out
