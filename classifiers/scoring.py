"""Score every candidate control of a framework against a document's chunks: dense, lexical, fused, aggregated."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from classifiers.index import ControlIndex
from classifiers.profiles import tokenize


@dataclass(frozen=True)
class ScoringConfig:
    """Weights of the fused score; part of the classifier version."""

    w_dense_max: float = 1.0
    w_dense_top: float = 0.5
    w_bm25: float = 0.35
    top_k_chunks: int = 3
    bm25_chunk_tokens: int = 4000

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class FrameworkScores:
    framework: str
    control_ids: list[str]
    dense_max: np.ndarray      # best single passage (a strong passage must count)
    dense_top: np.ndarray      # mean of the best k passages (support beyond one line)
    bm25: np.ndarray           # lexical match of the whole document, scaled to [0, 1]
    fused: np.ndarray
    best_chunk: np.ndarray     # index of the passage that supports each control
    features: dict = field(default_factory=dict)
    dense_doc: np.ndarray | None = None   # the document's head against each control's views (classifiers/genre.py)

    def ranking(self) -> list[int]:
        return list(np.argsort(-self.fused, kind="stable"))


def _bm25_scores(fx, tokens: list[str]) -> np.ndarray:
    raw = np.asarray(fx.bm25.get_scores(tokens), dtype=np.float64) if tokens else np.zeros(len(fx.control_ids))
    top = raw.max() if raw.size else 0.0
    return raw / top if top > 0 else raw


def score_document(index: ControlIndex, chunk_texts: list[str], chunk_vectors: np.ndarray,
                   config: ScoringConfig = ScoringConfig()) -> dict[str, FrameworkScores]:
    """Per framework: each control's best passage, top-k support, lexical score and their fusion."""
    # Query with the distinct tokens of the document, capped: a log repeats the same words thousands of times.
    seen: dict[str, None] = {}
    for t in chunk_texts:
        for tok in tokenize(t):
            if len(seen) >= config.bm25_chunk_tokens:
                break
            seen.setdefault(tok)
    tokens = list(seen)
    out: dict[str, FrameworkScores] = {}
    for fw, fx in index.frameworks.items():
        sims = chunk_vectors @ fx.view_vectors.T                     # (chunks, views)
        n_controls = len(fx.control_ids)
        per_control = np.full((len(chunk_texts), n_controls), -1.0, dtype=np.float32)
        np.maximum.at(per_control.T, fx.view_owner, sims.T)         # best view of each control, per chunk
        best_chunk = per_control.argmax(axis=0)
        dense_max = per_control.max(axis=0)
        k = min(config.top_k_chunks, per_control.shape[0])
        dense_top = np.sort(per_control, axis=0)[-k:].mean(axis=0)
        bm25 = _bm25_scores(fx, tokens)
        fused = config.w_dense_max * dense_max + config.w_dense_top * dense_top + config.w_bm25 * bm25
        out[fw] = FrameworkScores(fw, fx.control_ids, dense_max, dense_top, bm25, fused, best_chunk)
    return out


RELATIONSHIP_WEIGHT = {"equal": 1.0, "subset": 0.8, "superset": 0.8, "intersect": 0.7, "related": 0.5}


@dataclass(frozen=True)
class CrossConfig:
    """How evidence form and the crosswalk move scores between frameworks; part of the classifier version."""

    w_form: float = 0.15
    w_reinforce: float = 0.1
    w_propose: float = 0.1

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _relative(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


@lru_cache(maxsize=16)
def _links(catalog, framework: str) -> dict[str, list]:
    """One-hop crosswalk paths that move scores, per control (computed once per catalog, not per document).

    ISO 42001 is reinforced by CSF/NHI; CSF and NHI are proposed from ISO only.
    """
    from catalog.loader import ISO

    out: dict[str, list] = {}
    for c in catalog.frameworks[framework].requirements():
        out[c.id] = [p for p in catalog.neighbours(framework, c.id)
                     if p[-1].to_framework != framework and (framework == ISO or p[-1].to_framework == ISO)]
    return out


def combine(scores: dict[str, FrameworkScores], catalog, kind: str | None,
            config: CrossConfig = CrossConfig()) -> dict[str, dict[str, list]]:
    """Add evidence-form priors and crosswalk support to each framework's fused score (in place).

    ISO 42001 suggestions are reinforced by direct CSF/NHI evidence of a neighbour; CSF and NHI controls are
    proposed through the crosswalk from ISO 42001 evidence. Returns, per framework and control, the crosswalk
    path that contributed most (for the suggestion's record).
    """
    from catalog.loader import ISO

    direct = {fw: _relative(s.fused) for fw, s in scores.items()}
    pos = {fw: {cid: i for i, cid in enumerate(s.control_ids)} for fw, s in scores.items()}
    paths: dict[str, dict[str, list]] = {fw: {} for fw in scores}
    for prior in (catalog.evidence_forms.get(kind or "", []) if config.w_form else []):
        fw, cid = prior["framework"], prior["control_id"]
        if fw in scores and cid in pos[fw]:
            scores[fw].fused[pos[fw][cid]] += config.w_form * float(prior["weight"])
    for fw, s in scores.items():
        weight = config.w_reinforce if fw == ISO else config.w_propose
        if not weight:
            continue
        bonus = np.zeros(len(s.control_ids))
        links = _links(catalog, fw)
        for i, cid in enumerate(s.control_ids):
            best, best_path = 0.0, None
            for path in links.get(cid, ()):
                hop = path[-1]
                other = hop.to_framework
                if other not in scores:
                    continue
                j = pos[other].get(hop.to_id)
                if j is None:
                    continue
                value = direct[other][j] * RELATIONSHIP_WEIGHT[hop.relationship]
                if value > best:
                    best, best_path = value, path
            bonus[i] = best
            if best_path is not None:
                paths[fw][cid] = best_path
        s.fused = s.fused + weight * bonus
    return paths
