"""Map fused scores to calibrated confidences (logistic regression fitted offline, stored as JSON, no pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "calibration.json"
DEFAULT_THRESHOLD = 0.5
# L2 strength of the logistic map (sklearn's C; smaller = stronger). Chosen by leave-one-source-out ECE over
# dev + realistic + no-evidence sets: C 0.03/0.1/0.3/1/3 gave NHI ECE .024/.028/.050/.089/.116, ISO
# .050/.039/.031/.037/.059, CSF .040/.025/.017/.019/.020; 0.3 is best for ISO and CSF and within .08 for NHI.
REGULARIZATION_C = 0.3


def features(ranked_scores: np.ndarray) -> np.ndarray:
    """Per candidate, from a document's scores in rank order: the score, log rank, and gap to the top score.

    The absolute score lets a document that evidences nothing stay unconfident; rank and gap carry what a
    score means relative to the rest of the same document.
    """
    s = np.asarray(ranked_scores, dtype=np.float64)
    if s.size == 0:
        return np.zeros((0, 3))
    ranks = np.arange(1, s.size + 1, dtype=np.float64)
    return np.column_stack([s, np.log(ranks), s - s[0]])


@dataclass(frozen=True)
class Calibrator:
    """Platt-style logistic map from (score, rank, gap) to P(this control is right), per framework."""

    models: dict[str, tuple[tuple[float, ...], float]]   # framework -> (coefficients, intercept)
    thresholds: dict[str, float]
    meta: dict

    def confidence(self, framework: str, ranked_scores: np.ndarray) -> np.ndarray:
        """Confidences for a document's candidates given in rank order (best first)."""
        x = features(ranked_scores)
        if framework not in self.models:
            return np.zeros(len(x))  # an uncalibrated framework is never confident
        coef, intercept = self.models[framework]
        return 1.0 / (1.0 + np.exp(-(x @ np.asarray(coef) + intercept)))

    def threshold(self, framework: str) -> float:
        return self.thresholds.get(framework, DEFAULT_THRESHOLD)

    def as_json(self) -> dict:
        return {"frameworks": {fw: {"coef": list(c), "intercept": i, "threshold": self.threshold(fw)}
                               for fw, (c, i) in self.models.items()}, "meta": self.meta}


def fit(ranked: dict[str, list[np.ndarray]], correct: dict[str, list[np.ndarray]], meta: dict,
        thresholds: dict[str, float] | None = None, c: float = REGULARIZATION_C) -> Calibrator:
    """Fit one logistic regression per framework on every candidate of every document (rank order)."""
    from sklearn.linear_model import LogisticRegression

    models = {}
    for fw, docs in ranked.items():
        x = np.vstack([features(d) for d in docs]) if docs else np.zeros((0, 3))
        y = np.concatenate(correct[fw]) if docs else np.zeros(0)
        if len(set(y.tolist())) < 2:
            continue
        lr = LogisticRegression(C=c, max_iter=1000).fit(x, y)
        models[fw] = (tuple(float(v) for v in lr.coef_[0]), float(lr.intercept_[0]))
    return Calibrator(models, thresholds or {}, meta)


def load(path: Path = CALIBRATION_FILE) -> Calibrator:
    """The shipped calibration; a missing file means every suggestion needs review."""
    if not path.exists():
        return Calibrator({}, {}, {"missing": str(path)})
    raw = json.loads(path.read_text())
    return Calibrator({fw: (tuple(v["coef"]), float(v["intercept"])) for fw, v in raw["frameworks"].items()},
                      {fw: v.get("threshold", DEFAULT_THRESHOLD) for fw, v in raw["frameworks"].items()},
                      raw.get("meta", {}))


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: bin-size-weighted mean |accuracy - confidence| over equal-width confidence bins."""
    conf, correct = np.asarray(conf, dtype=float), np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() / conf.size * abs(correct[mask].mean() - conf[mask].mean())
    return float(total)
