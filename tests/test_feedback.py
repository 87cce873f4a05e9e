"""Reviewer decisions as examples: confirmed controls vote for, rejected controls vote against, by similarity."""

import numpy as np

from classifiers.examples import ExampleBank


def _unit(*xs):
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_confirmed_votes_for_and_rejected_votes_against():
    bank = ExampleBank(np.stack([_unit(1, 0, 0), _unit(0, 1, 0)]),
                       labels=[{"ISO": ["A.2.2"]}, {"ISO": ["A.6.2.4"]}], groups=["d1", "d2"],
                       negatives=[{"ISO": ["A.9.2"]}, {}], k=5, power=1.0, min_similarity=0.5)
    votes = bank.votes(_unit(1, 0.1, 0), "ISO", ["A.2.2", "A.9.2", "A.6.2.4", "5.2"])
    sim = float(_unit(1, 0, 0) @ _unit(1, 0.1, 0))
    assert np.allclose(votes, [sim, -sim, 0.0, 0.0])  # d2 is below the similarity floor: no vote


def test_an_example_with_only_rejections_still_votes_and_groups_can_be_held_out():
    bank = ExampleBank(np.stack([_unit(1, 0)]), labels=[{}], groups=["d1"], negatives=[{"CSF": ["PR.AA-01"]}],
                       power=1.0, min_similarity=0.1)
    assert bank.votes(_unit(1, 0), "CSF", ["PR.AA-01"]).tolist() == [-1.0]
    assert bank.without_group("d1").votes(_unit(1, 0), "CSF", ["PR.AA-01"]).tolist() == [0.0]


def test_extending_a_bank_keeps_both_sets_of_examples():
    base = ExampleBank(np.stack([_unit(1, 0)]), labels=[{"ISO": ["A.2.2"]}], groups=["dev"], power=1.0)
    extra = ExampleBank(np.stack([_unit(0.9, 0.1)]), labels=[{}], groups=["t"], negatives=[{"ISO": ["A.2.2"]}],
                        power=1.0)
    both = base.extended(extra)
    assert len(both) == 2 and both.groups == ["dev", "t"]
    v = both.votes(_unit(1, 0), "ISO", ["A.2.2"])[0]
    assert 0 < v < 0.01  # the dev example's vote minus the slightly less similar rejection
