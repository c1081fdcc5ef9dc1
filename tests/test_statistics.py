"""Bootstrap intervals and paired tests over source images (pixbench.metrics.statistics), on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from pixbench.metrics import aggregate, bootstrap_ci, classification_metrics, paired_difference


def test_bootstrap_resamples_images_not_crops():
    # Two photos, 10 crops each, all 0 on one and all 1 on the other. Drawing 2 photos with replacement
    # gives a mean of 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4, so the 95% interval is [0, 1].
    # (Resampling the 20 crops instead would give about [0.3, 0.7].)
    values = np.repeat([0.0, 1.0], 10)
    groups = np.repeat(["a", "b"], 10)
    ci = bootstrap_ci(values, groups, statistic="mean")
    assert ci.estimate == 0.5 and (ci.low, ci.high) == (0.0, 1.0)
    assert ci.n_groups == 2 and ci.n_values == 20


def test_bootstrap_interval_contains_the_true_mean_and_is_seeded():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(40), 3)
    values = 10.0 + rng.normal(0, 1, 40)[groups] + rng.normal(0, 0.1, 120)  # true mean 10
    one = bootstrap_ci(values, groups, statistic="mean", seed=3)
    two = bootstrap_ci(values, groups, statistic="mean", seed=3)
    assert one == two
    assert one.low < 10.0 < one.high and one.low < one.estimate < one.high
    assert one.estimate == pytest.approx(values.mean())
    # row order does not matter (up to float summation order): groups are drawn by their sorted labels
    shuffled = rng.permutation(120)
    other = bootstrap_ci(values[shuffled], groups[shuffled], statistic="mean", seed=3)
    assert (other.low, other.high) == pytest.approx((one.low, one.high), abs=1e-12)


def test_constant_values_give_a_point_interval():
    ci = bootstrap_ci([2.5] * 6, [0, 0, 1, 1, 2, 2], statistic="mean")
    assert (ci.estimate, ci.low, ci.high) == (2.5, 2.5, 2.5)


def test_accuracy_and_fp_rate_are_recomputed_from_labels_and_predictions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    predictions = np.where(rng.random(60) < 0.8, labels, 1 - labels)
    groups = np.repeat(np.arange(12), 5)
    outcomes = np.stack([labels, predictions], axis=1)
    reference = classification_metrics(labels, predictions.astype(float), threshold=0.5)  # score >= 0.5 = predicted 1
    accuracy = bootstrap_ci(outcomes, groups, statistic="accuracy")
    fp_rate = bootstrap_ci(outcomes, groups, statistic="fp_rate")
    assert accuracy.estimate == pytest.approx(reference["accuracy"])
    assert fp_rate.estimate == pytest.approx(reference["fpr"])
    assert accuracy.low <= accuracy.estimate <= accuracy.high and fp_rate.low <= fp_rate.estimate <= fp_rate.high


def test_infinite_psnr_is_left_out_of_the_mean_like_aggregate():
    values = [30.0, np.inf, 32.0, 34.0]
    ci = bootstrap_ci(values, ["a", "a", "b", "c"], statistic="mean")
    assert ci.estimate == aggregate(values)["mean"] == 32.0  # aggregate leaves +inf out and counts it
    assert ci.n_inf == 1 and ci.n_values == 3


def test_nan_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([1.0, np.nan], ["a", "b"], statistic="mean")
    with pytest.raises(ValueError, match="one label per value"):
        bootstrap_ci([1.0, 2.0], ["a"], statistic="mean")
    with pytest.raises(ValueError, match="unknown statistic 'median'"):
        bootstrap_ci([1.0], ["a"], statistic="median")
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        bootstrap_ci([1.0], ["a"], statistic="mean", confidence=95)
    with pytest.raises(ValueError, match="a and b must be 1-D of equal length"):
        paired_difference([1.0, 2.0], [1.0], ["a", "b"])


def test_identical_models_differ_by_zero_with_p_one():
    a = np.arange(12.0)
    groups = np.repeat(np.arange(4), 3)
    result = paired_difference(a, a.copy(), groups)
    assert result.difference == 0.0 and result.p_value == 1.0
    assert (result.low, result.high) == (0.0, 0.0) and (result.wins, result.ties, result.losses) == (0, 4, 0)


def test_a_constant_shift_gets_the_smallest_exact_p():
    # 5 photos: 2**5 = 32 sign patterns <= 2000, enumerated. Only "all +" and "all -" reach |mean| = 0.3,
    # so p = 2 / 32.
    groups = np.repeat(np.arange(5), [1, 2, 3, 1, 2])
    a = np.linspace(20, 30, groups.size)
    result = paired_difference(a, a + 0.3, groups)
    assert result.exact and result.p_value == pytest.approx(2 / 32)
    assert result.difference == pytest.approx(0.3) and result.low == pytest.approx(0.3)
    assert (result.wins, result.ties, result.losses) == (5, 0, 0)


def test_exact_p_on_a_small_case_by_hand():
    # per-image differences 1, 2, 3: of the 8 sign patterns, only +++ and --- reach |sum| = 6, so p = 2/8.
    assert paired_difference([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], ["x", "y", "z"]).p_value == pytest.approx(0.25)
    # differences 1, 1, -1: every pattern reaches |sum| >= 1, so p = 1.
    assert paired_difference([0.0, 0.0, 0.0], [1.0, 1.0, -1.0], ["x", "y", "z"]).p_value == pytest.approx(1.0)


def test_crops_are_averaged_within_an_image_first():
    # image x: crops differ by +3 and -1 (mean +1); image y: one crop, +4. Mean over images: (1 + 4) / 2 = 2.5
    result = paired_difference([0.0, 0.0, 0.0], [3.0, -1.0, 4.0], ["x", "x", "y"])
    assert result.images == ("x", "y") and result.per_image.tolist() == [1.0, 4.0]
    assert result.difference == 2.5


def test_monte_carlo_p_is_seeded_and_never_zero():
    # 12 photos: 2**12 = 4096 > 2000 patterns, so 2000 random patterns and p = (k + 1) / 2001.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 2)
    a = rng.normal(25, 2, 24)
    b = a + 0.5 + rng.normal(0, 0.01, 24)
    one, two = paired_difference(a, b, groups, seed=7), paired_difference(a, b, groups, seed=7)
    assert not one.exact and one.p_value == two.p_value and one.low == two.low
    assert 1 / 2001 <= one.p_value <= 5 / 2001
    assert one.low < 0.5 < one.high


def test_infinite_pairs_are_left_out_and_counted():
    result = paired_difference([20.0, np.inf, 22.0], [21.0, 30.0, 23.0], ["x", "y", "z"])
    assert result.n_left_out == 1 and result.n_pairs == 2 and result.images == ("x", "z")
    assert result.difference == 1.0
