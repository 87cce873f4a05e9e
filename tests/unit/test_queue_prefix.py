"""Prefix filtering for near-duplicate quotes (review/queue.py): never misses a pair at the Jaccard threshold."""

from __future__ import annotations

import random

from review.queue import NEAR_DUPLICATE_JACCARD, jaccard_prefix


def test_every_pair_at_or_above_the_threshold_shares_a_prefix_token():
    rng = random.Random(7)
    vocab = [f"t{i:03d}" for i in range(300)]
    checked = 0
    for _ in range(4000):
        n = rng.randint(1, 40)
        a = set(rng.sample(vocab, n))
        b = set(a)
        for _ in range(rng.randint(0, 4)):   # a few tokens changed or added
            if b and rng.random() < 0.5:
                b.discard(rng.choice(sorted(b)))
            b.add(rng.choice(vocab))
        if not b or len(a & b) / len(a | b) < NEAR_DUPLICATE_JACCARD:
            continue
        checked += 1
        assert set(jaccard_prefix(frozenset(a))) & set(jaccard_prefix(frozenset(b))), (sorted(a), sorted(b))
    assert checked > 500


def test_prefix_length_is_exact_where_floating_point_is_not():
    tokens = frozenset(f"w{i:02d}" for i in range(15))
    assert len(jaccard_prefix(tokens)) == 15 - 12 + 1   # ceil(0.8 * 15) is 12, though 0.8 * 15 > 12 in floats
    assert jaccard_prefix(frozenset()) == []
