"""Per-process handles on the stores, built from one Settings object and opened on first use."""

from __future__ import annotations

from functools import cached_property

from core.blobs import BlobStore
from core.db import Database
from core.settings import Settings


class Runtime:
    """What a request handler or a worker needs: database, originals, vectors, embedder."""

    def __init__(self, settings: Settings, *, db: Database | None = None) -> None:
        self.settings = settings
        self._own_db = db is None
        if db is not None:
            self.__dict__["db"] = db

    @cached_property
    def db(self) -> Database:
        return Database.from_settings(self.settings)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.originals_dir)

    @cached_property
    def vectors(self):
        from core.vectors import open_vector_store

        return open_vector_store(self.settings.resolved_chroma_url)

    def close(self) -> None:
        """Release what this runtime opened (the embedded vector store's lock, database connections)."""
        if "vectors" in self.__dict__:
            self.__dict__.pop("vectors").close()
        if self._own_db and "db" in self.__dict__:
            self.db.dispose()

    @property
    def embedder(self):
        from core.embedder import get_embedder

        return get_embedder()
