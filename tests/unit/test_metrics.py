"""Metric functions on hand-computed cases, including ties, empty labels and a label never predicted."""

import numpy as np
import pytest

from classifiers.calibration import expected_calibration_error
from eval.metrics import hit_at, precision_at, ranking_metrics, recall_at, reciprocal_rank, reliability, set_metrics


def test_ranking_metrics_on_a_hand_computed_pair():
    rankings = [["A", "B", "C", "D", "E"], ["X", "Y", "Z", "B", "Q", "R"]]
    golds = [{"B", "E"}, {"R"}]
    m = ranking_metrics(rankings, golds)
    assert m["n"] == 2
    assert m["hit@1"] == 0.0 and m["hit@3"] == 0.5 and m["hit@5"] == 0.5
    assert m["precision@3"] == pytest.approx((1 / 3 + 0) / 2, abs=1e-4)
    assert m["recall@5"] == pytest.approx((2 / 2 + 0) / 2)
    assert m["recall@10"] == pytest.approx((1 + 1) / 2)
    assert m["mrr"] == pytest.approx((1 / 2 + 1 / 6) / 2, abs=1e-4)


def test_short_rankings_and_misses():
    assert precision_at(["A"], {"A"}, 3) == pytest.approx(1 / 3)   # empty slots count as wrong
    assert reciprocal_rank(["A", "B"], {"Z"}) == 0.0
    assert recall_at(["A", "A"], {"A", "B"}, 2) == 0.5            # a repeated id is one hit
    assert hit_at([], {"A"}, 5) == 0.0
    assert ranking_metrics([], []) == {"n": 0}


def test_ties_are_broken_by_the_given_order():
    # two suggestions with the same score: the metric trusts the rank the classifier gave
    assert reciprocal_rank(["B", "A"], {"A"}) == 0.5 and reciprocal_rank(["A", "B"], {"A"}) == 1.0


def test_set_metrics_with_an_empty_prediction_and_a_label_never_predicted():
    labels = ["A", "B", "C"]
    m = set_metrics(predicted=[{"A"}, set()], golds=[{"A", "B"}, {"B"}], labels=labels)
    # micro: tp=1, fp=0, fn=2 -> p=1, r=1/3, f1=0.5
    assert (m["micro_precision"], m["micro_recall"], m["micro_f1"]) == (1.0, 0.3333, 0.5)
    # macro over labels that occur: A f1=1, B f1=0 (never predicted) -> 0.5; C never occurs and is left out
    assert m["macro_f1"] == 0.5
    assert m["per_label"]["B"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2, "predicted": 0}
    assert "C" not in m["per_label"]


def test_reliability_bins_and_ece_agree():
    conf = np.array([0.05, 0.15, 0.95, 0.95])
    correct = np.array([0, 0, 1, 0])
    bins = reliability(conf, correct)
    assert bins[0]["count"] == 1 and bins[9]["count"] == 2 and bins[9]["accuracy"] == 0.5
    expected = 0.25 * 0.05 + 0.25 * 0.15 + 0.5 * abs(0.5 - 0.95)
    assert expected_calibration_error(conf, correct) == pytest.approx(expected)


def test_cohen_kappa_on_a_hand_computed_table():
    from eval.metrics import cohen_kappa

    # observed agreement 3/4; chance = 0.5*0.25 + 0.5*0.75 = 0.5 -> kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(1.0)
