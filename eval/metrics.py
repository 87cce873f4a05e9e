"""Ranking and classification metrics for control suggestions, scored per framework over labelled items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def hit_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """1 if any gold label is among the first k suggestions."""
    return float(bool(gold & set(ranked[:k])))


def precision_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Share of the first k slots holding a gold label (an empty slot counts as wrong)."""
    return sum(1 for c in ranked[:k] if c in gold) / k


def recall_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    return sum(1 for c in set(ranked[:k]) if c in gold) / len(gold) if gold else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: set[str]) -> float:
    return next((1.0 / (i + 1) for i, c in enumerate(ranked) if c in gold), 0.0)


def ranking_metrics(rankings: list[Sequence[str]], golds: list[set[str]]) -> dict[str, float]:
    """Mean hit@1/3/5, precision@3, recall@5/10 and MRR over items (each with at least one gold label)."""
    n = len(rankings)
    if n == 0:
        return {"n": 0}
    agg = {"hit@1": 0.0, "hit@3": 0.0, "hit@5": 0.0, "precision@3": 0.0, "recall@5": 0.0, "recall@10": 0.0,
           "mrr": 0.0}
    for r, g in zip(rankings, golds):
        agg["hit@1"] += hit_at(r, g, 1)
        agg["hit@3"] += hit_at(r, g, 3)
        agg["hit@5"] += hit_at(r, g, 5)
        agg["precision@3"] += precision_at(r, g, 3)
        agg["recall@5"] += recall_at(r, g, 5)
        agg["recall@10"] += recall_at(r, g, 10)
        agg["mrr"] += reciprocal_rank(r, g)
    return {"n": n, **{k: round(v / n, 4) for k, v in agg.items()}}


def set_metrics(predicted: list[set[str]], golds: list[set[str]], labels: list[str]) -> dict:
    """Micro and macro F1 of predicted label sets, and per-label precision/recall/F1 (scikit-learn)."""
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=labels)
    y_true = mlb.fit_transform(golds)
    y_pred = mlb.transform(predicted)
    micro = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0)
    present = [i for i, _ in enumerate(labels) if y_true[:, i].any() or y_pred[:, i].any()]
    macro = precision_recall_fscore_support(y_true[:, present], y_pred[:, present], average="macro",
                                            zero_division=0) if present else (0, 0, 0, None)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    per_label = {labels[i]: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                             "f1": round(float(f[i]), 4), "support": int(support[i]),
                             "predicted": int(y_pred[:, i].sum())} for i in present}
    return {"micro_precision": round(float(micro[0]), 4), "micro_recall": round(float(micro[1]), 4),
            "micro_f1": round(float(micro[2]), 4), "macro_f1": round(float(macro[2]), 4), "per_label": per_label}


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict]:
    """Reliability-diagram bins: mean confidence, accuracy and count per equal-width bin."""
    conf, correct = np.asarray(conf, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        out.append({"lo": round(edges[b], 2), "hi": round(edges[b + 1], 2), "count": int(m.sum()),
                    "confidence": round(float(conf[m].mean()), 4) if m.any() else None,
                    "accuracy": round(float(correct[m].mean()), 4) if m.any() else None})
    return out


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    """Agreement between classifier and reviewers beyond chance (scikit-learn)."""
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(a, b))
