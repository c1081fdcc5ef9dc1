"""Classification metrics, breakdowns and aggregation, against hand counts and brute force."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from pixbench.metrics import aggregate, breakdown, classification_metrics


def test_hand_counted_confusion_matrix():
    y = [1, 1, 1, 0, 0, 0, 0, 1]
    s = [0.9, 0.6, 0.2, 0.1, 0.7, 0.3, 0.5, 0.5]
    m = classification_metrics(y, s, threshold=0.5)
    # score >= 0.5 is positive: predictions 1,1,0,0,1,0,1,1 -> tp 3, fn 1, fp 2, tn 2 (counted by hand).
    assert (m["tp"], m["fn"], m["fp"], m["tn"], m["n"]) == (3, 1, 2, 2, 8)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert m["fpr"] == pytest.approx(2 / 4)
    assert m["fnr"] == pytest.approx(1 / 4)
    # AUC by hand over the 16 (positive, negative) pairs: 0.9 beats 4, 0.6 beats 3, 0.2 beats 1,
    # 0.5 beats 2 and ties 1 (half credit): 10.5 / 16.
    assert m["roc_auc"] == pytest.approx(10.5 / 16)


def test_roc_auc_equals_pair_counting_with_ties():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    s = rng.integers(0, 6, 60) / 5.0  # many ties
    pos, neg = s[y == 1], s[y == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg))
    assert classification_metrics(y, s)["roc_auc"] == pytest.approx(wins / (len(pos) * len(neg)))


def test_degenerate_cases_are_defined_and_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_class = classification_metrics([0, 0, 0], [0.1, 0.9, 0.2])
        assert one_class["roc_auc"] is None
        assert one_class["recall"] == 0.0 and one_class["fnr"] == 0.0  # no positives
        assert one_class["fpr"] == pytest.approx(1 / 3)
        all_negative = classification_metrics([0, 1, 1], [0.0, 0.0, 0.0])
        assert all_negative["precision"] == 0.0 and all_negative["f1"] == 0.0
        assert all_negative["roc_auc"] == pytest.approx(0.5)  # all scores tied
        perfect = classification_metrics([True, False], [1.0, 0.0])
        assert perfect["accuracy"] == 1.0 and perfect["roc_auc"] == 1.0


def test_bad_labels_and_lengths():
    with pytest.raises(ValueError, match=r"equal length, got shapes \(2,\) and \(3,\)"):
        classification_metrics([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"0/1 or bool labels, got values like \[2\]"):
        classification_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="non-finite"):
        classification_metrics([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [])


def test_breakdown_per_factor():
    frame = pd.DataFrame(
        {
            "label": [0, 0, 1, 1, 1, 1],
            "score": [0.2, 0.7, 0.9, 0.4, 0.8, 0.6],
            "factor": [np.nan, np.nan, 2.0, 2.0, 4.0, 4.0],
        }
    )
    out = breakdown(frame, "factor")
    assert list(out) == ["2", "4", "n/a"]
    assert out["2"]["accuracy"] == pytest.approx(0.5)  # 0.9 right, 0.4 wrong
    assert out["4"]["accuracy"] == pytest.approx(1.0)
    assert out["n/a"]["accuracy"] == pytest.approx(0.5) and out["n/a"]["roc_auc"] is None
    with pytest.raises(ValueError, match=r"by='kernel' is not a column; columns are \['label', 'score', 'factor'\]"):
        breakdown(frame, "kernel")


def test_aggregate_reports_inf_separately():
    out = aggregate([30.0, 40.0, math.inf])
    assert out["mean"] == pytest.approx(35.0) and out["n"] == 3 and out["n_inf"] == 1 and out["n_finite"] == 2
    assert out["std"] == pytest.approx(5.0) and out["median"] == pytest.approx(35.0)
    capped = aggregate([30.0, 40.0, math.inf], inf_cap=100.0)
    assert capped["mean"] == pytest.approx(170.0 / 3) and capped["n_inf"] == 1
    only_inf = aggregate([math.inf])
    assert only_inf["mean"] is None and only_inf["n_inf"] == 1
    assert aggregate([])["n"] == 0
    with pytest.raises(ValueError, match="NaN at index 1"):
        aggregate([1.0, float("nan")])


def test_calibration_by_hand():
    """Six scores in 2 bins, counted by hand: ECE = 3/6 |2/3 - 0.3| + 3/6 |2/3 - 0.8| = 0.25."""
    from pixbench.metrics import calibration

    labels = [0, 1, 1, 1, 1, 0]
    scores = [0.1, 0.4, 0.4, 0.7, 1.0, 0.7]  # bin [0, .5): .1 .4 .4 (mean .3, 2 of 3 positive); [.5, 1]: .7 1.0 .7
    got = calibration(labels, scores, bins=2)
    assert got["ece"] == pytest.approx(0.5 * abs(2 / 3 - 0.3) + 0.5 * abs(2 / 3 - 0.8))
    assert got["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.09 + 0.0 + 0.49) / 6)
    assert [b["n"] for b in got["bins"]] == [3, 3] and got["bins"][1]["mean_score"] == pytest.approx(0.8)
    # perfectly calibrated in every bin: ECE 0; a confident wrong answer: ECE 1
    assert calibration([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], bins=10)["ece"] == pytest.approx(0.0)
    assert calibration([0, 0], [1.0, 1.0])["ece"] == pytest.approx(1.0)
    empty = calibration([0, 1], [0.0, 1.0], bins=4)["bins"]
    assert [b["n"] for b in empty] == [1, 0, 0, 1] and empty[1]["mean_score"] is None
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        calibration([0, 1], [0.2, 1.5])
