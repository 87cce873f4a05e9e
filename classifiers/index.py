"""Catalog controls embedded once per catalog version and embedder, plus a BM25 index per framework."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from catalog import Catalog
from classifiers.profiles import CLASSIFIED, View, candidates, lexical_documents, tokenize, views

_lock = threading.Lock()
_cache: dict[tuple[str, str, bool], ControlIndex] = {}


@dataclass
class FrameworkIndex:
    framework: str
    control_ids: list[str]
    view_vectors: np.ndarray          # (n_views, d)
    view_owner: np.ndarray            # (n_views,) index into control_ids
    view_kinds: list[str]
    bm25: BM25Okapi


class ControlIndex:
    """Everything retrieval needs about the catalog, built once and reused for every document."""

    def __init__(self, catalog: Catalog, embedder, cache_dir: Path | None = None, *,
                 crosswalk_views: bool = True) -> None:
        self.catalog_version = catalog.version
        self.embedder_id = embedder.id
        all_views = views(catalog, crosswalk_rationales=crosswalk_views)
        genre_views = [(i, text) for i, g in enumerate(catalog.genres) for text in g["names"] + g["views"]]
        texts = [v.text for v in all_views] + [text for _, text in genre_views]
        key = hashlib.sha256(json.dumps([catalog.version, embedder.id, texts]).encode()).hexdigest()[:16]
        vectors = _load_or_embed(texts, embedder, cache_dir / f"controls-{key}.npy" if cache_dir else None)
        # document genres (catalog/data/genres.json): several phrasings each, matched against a document's head
        self.genres: list[dict] = list(catalog.genres)
        self.genre_vectors = vectors[len(all_views):]
        self.genre_owner = np.array([i for i, _ in genre_views], dtype=np.int64)
        vectors = vectors[: len(all_views)]
        self.frameworks: dict[str, FrameworkIndex] = {}
        for fw in CLASSIFIED:
            ids = candidates(catalog, fw)
            pos = {cid: i for i, cid in enumerate(ids)}
            rows = [i for i, v in enumerate(all_views) if v.framework == fw]
            docs = lexical_documents(catalog, fw)
            self.frameworks[fw] = FrameworkIndex(
                fw, ids, vectors[rows], np.array([pos[all_views[i].control_id] for i in rows]),
                [all_views[i].kind for i in rows], BM25Okapi([tokenize(docs[cid]) for cid in ids]))
        self.views: list[View] = all_views


def _load_or_embed(texts: list[str], embedder, path: Path | None) -> np.ndarray:
    if path is not None and path.exists():
        arr = np.load(path, allow_pickle=False)
        if arr.shape == (len(texts), embedder.dimension):
            return arr
    arr = embedder.embed(texts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, arr, allow_pickle=False)
        tmp.replace(path)
    return arr


def get_index(catalog: Catalog, embedder, cache_dir: Path | None = None, *,
              crosswalk_views: bool = True) -> ControlIndex:
    """The process-wide index for this catalog version, embedder and choice of views."""
    key = (catalog.version, embedder.id, crosswalk_views)
    with _lock:
        if key not in _cache:
            _cache[key] = ControlIndex(catalog, embedder, cache_dir, crosswalk_views=crosswalk_views)
        return _cache[key]
