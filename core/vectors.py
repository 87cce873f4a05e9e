"""Chroma vector store: one collection per tenant, our own vectors and metadata, embedded or server.

Chroma's embedded client is made for one process: a second process that opens the same directory keeps a frozen
copy of the collections it has loaded and never sees what the first one writes afterwards. So an embedded
directory has one owner at a time, decided by an exclusive lock file beside it (`<dir>.lock`, flock: the kernel
drops it when the owner dies). `clausewise serve` takes the lock, starts a Chroma server on that directory on
loopback and writes its address beside it (`<dir>.server.json`); every other process on the embedded default —
the API, workers, `reconcile`, `ingest` — finds the lock taken and talks to that server, exactly as on the scale
path. A process that finds the lock free (a lone `clausewise ingest`, or a test) opens the directory itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from core.embedder import DIMENSION
from core.errors import ClausewiseError, ErrorCode

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
_SAFE = re.compile(r"[^a-zA-Z0-9._-]")


def collection_name(tenant_id: str, purpose: str = "chunks") -> str:
    """Server-derived collection name for a tenant; user input never names a collection."""
    return f"cw-{purpose}-{_SAFE.sub('', tenant_id)}"[:512]


def is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def lock_path(directory: str | Path) -> Path:
    return Path(str(Path(directory).resolve()) + ".lock")


def server_file(directory: str | Path) -> Path:
    """Where the process that owns an embedded directory publishes the address of the server it runs on it."""
    return Path(str(Path(directory).resolve()) + ".server.json")


class StoreBusy(Exception):
    """Another process owns the embedded directory."""

    def __init__(self, directory: str, holder: str) -> None:
        super().__init__(f"the vector store {directory} is open in another process ({holder})")
        self.directory, self.holder = directory, holder


class EmbeddedLock:
    """The exclusive, process-wide ownership of one embedded Chroma directory (re-entrant within a process)."""

    _held: dict[str, list] = {}  # lock path -> [fd, references]
    _guard = threading.Lock()

    @classmethod
    def acquire(cls, directory: str | Path) -> bool:
        """Take the lock (or one more reference to it); True when this call took it from the kernel."""
        path = lock_path(directory)
        key = str(path)
        with cls._guard:
            if key in cls._held:
                cls._held[key][1] += 1
                return False
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 400).decode("utf-8", "replace").strip() or "unknown process"
                os.close(fd)
                raise StoreBusy(str(directory), holder) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:300]}\n".encode(), 0)
            cls._held[key] = [fd, 1]
            return True

    @classmethod
    def release(cls, directory: str | Path) -> bool:
        """Drop one reference; True when the lock itself was given up."""
        key = str(lock_path(directory))
        with cls._guard:
            entry = cls._held.get(key)
            if entry is None:
                return False
            entry[1] -= 1
            if entry[1] > 0:
                return False
            del cls._held[key]
            os.close(entry[0])  # closing the descriptor drops the flock
            return True


def read_server_file(directory: str | Path) -> dict | None:
    try:
        return json.loads(server_file(directory).read_text())
    except (OSError, ValueError):
        return None


def open_vector_store(url: str) -> VectorStore:
    """The store at `url`: a server address, or an embedded directory — opened here if no other process owns
    it, else reached through the server its owner runs on it."""
    if is_remote(url):
        return VectorStore(url)
    try:
        return VectorStore(url)
    except StoreBusy as busy:
        published = read_server_file(url)
        # the address counts only if the lock's holder published it (a file left by a serve that was killed, while
        # another process holds the lock now, names a server that is gone)
        if published and published.get("url") and busy.holder.startswith(f"pid {published.get('pid')}:"):
            return VectorStore(published["url"])
        raise ClausewiseError(
            ErrorCode.vector_store_busy,
            f"{busy}, which serves it to no one; stop that process, or run `clausewise serve`, which shares the "
            f"embedded store with every other process through a local Chroma server") from None


class VectorStore:
    """Upsert, fetch, query and delete vectors. Never lets Chroma embed text itself.

    Constructed on a directory, it takes that directory's lock (`StoreBusy` if another process has it); most
    callers want `open_vector_store`, which then uses the owner's server."""

    def __init__(self, url: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        cs = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        self.embedded = not is_remote(url)
        if not self.embedded:
            u = urlparse(url)
            self.client = chromadb.HttpClient(host=u.hostname, port=u.port or 8000, ssl=u.scheme == "https",
                                              settings=cs)
        else:
            if EmbeddedLock.acquire(url):
                server_file(url).unlink(missing_ok=True)  # left by an owner that died: no server runs on it now
            try:
                self.client = chromadb.PersistentClient(path=url, settings=cs)
            except BaseException:
                EmbeddedLock.release(url)
                raise
        self.url = url
        self._collections: dict[str, object] = {}
        self._closed = False

    def close(self) -> None:
        """Give up an embedded directory: drop Chroma's in-process copy of it, then the lock (a later open reads
        the directory afresh)."""
        if self._closed:
            return
        self._closed = True
        self._collections.clear()
        if self.embedded and EmbeddedLock.release(self.url):
            from chromadb.api.shared_system_client import SharedSystemClient

            system = SharedSystemClient._identifier_to_system.pop(self.url, None)
            if system is not None:
                system.stop()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
                       metadatas=[clean_metadata(m) for m in metadatas[i:i + batch]],
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


def clean_metadata(meta: dict) -> dict:
    """Chroma metadata accepts only scalars; drop None and stringify the rest."""
    out = {}
    for k, v in meta.items():
        if v is None:
            continue
        out[k] = v if isinstance(v, (str, int, float, bool)) else str(v)
    return out
