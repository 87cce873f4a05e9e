"""The supervised part: labelled examples (documents with known controls) voting for their labels by similarity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EXAMPLES_DIR = Path(__file__).resolve().parent / "data"


@dataclass
class ExampleBank:
    """Document vectors with their labels per framework; grows with confirmed reviewer decisions."""

    vectors: np.ndarray                              # (n, d), unit length
    labels: list[dict[str, list[str]]]               # per example: framework -> control ids
    groups: list[str] = field(default_factory=list)  # source of each example (for held-out evaluation)
    # k 3 and 0.7 chosen by the leave-one-set-out protocol (eval.ablation) once realistic files joined the bank:
    # at 0.6 whole governance documents voted for guidance fragments (dev ISO MRR 0.703 -> 0.687); README "Classifier"
    k: int = 3
    power: float = 3.0
    min_similarity: float = 0.7   # a far neighbour says nothing about this document
    # per example: framework -> control ids a reviewer rejected for it (they vote against)
    negatives: list[dict[str, list[str]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def _negatives(self, i: int) -> dict[str, list[str]]:
        return self.negatives[i] if i < len(self.negatives) else {}

    def without_group(self, group: str) -> ExampleBank:
        keep = [i for i, g in enumerate(self.groups) if g != group]
        return ExampleBank(self.vectors[keep], [self.labels[i] for i in keep], [self.groups[i] for i in keep],
                           self.k, self.power, self.min_similarity, [self._negatives(i) for i in keep])

    def extended(self, other: ExampleBank) -> ExampleBank:
        """This bank plus another's examples (e.g. a tenant's reviewer decisions), same voting parameters."""
        if not len(other):
            return self
        return ExampleBank(np.vstack([self.vectors, other.vectors]).astype(np.float32), self.labels + other.labels,
                           self.groups + other.groups, self.k, self.power, self.min_similarity,
                           [self._negatives(i) for i in range(len(self))] +
                           [other._negatives(i) for i in range(len(other))])

    def votes(self, doc_vector: np.ndarray, framework: str, control_ids: list[str]) -> np.ndarray:
        """Similarity-weighted votes of the k nearest examples labelled for this framework, scaled to [0, 1]."""
        out = np.zeros(len(control_ids))
        if not len(self):
            return out
        pos = {c: i for i, c in enumerate(control_ids)}
        labelled = [i for i, lab in enumerate(self.labels)
                    if lab.get(framework) or self._negatives(i).get(framework)]
        if not labelled:
            return out
        sims = self.vectors[labelled] @ doc_vector
        for j in np.argsort(-sims)[: self.k]:
            if sims[j] < self.min_similarity:
                break
            ids = self.labels[labelled[j]].get(framework) or []
            rejected = self._negatives(labelled[j]).get(framework) or []
            for cids, sign in ((ids, 1.0), (rejected, -1.0)):
                weight = float(sims[j]) ** self.power / max(len(cids), 1)  # many labels: less for each
                for cid in cids:
                    if cid in pos:
                        out[pos[cid]] += sign * weight
        # in [-1, 1]: at most k neighbours of similarity <= 1; rejected mappings vote against
        return out


    def save(self, stem: Path) -> None:
        np.save(stem.with_suffix(".npy"), self.vectors.astype(np.float32), allow_pickle=False)
        stem.with_suffix(".json").write_text(json.dumps({"labels": self.labels, "groups": self.groups}) + "\n")

    @classmethod
    def load(cls, stem: Path = EXAMPLES_DIR / "examples") -> ExampleBank:
        if not stem.with_suffix(".npy").exists():
            return cls(np.zeros((0, 384), dtype=np.float32), [], [])
        meta = json.loads(stem.with_suffix(".json").read_text())
        return cls(np.load(stem.with_suffix(".npy"), allow_pickle=False), meta["labels"], meta["groups"])


def document_vector(chunk_vectors: np.ndarray) -> np.ndarray:
    v = chunk_vectors.mean(axis=0)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v
