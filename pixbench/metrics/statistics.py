"""Uncertainty of benchmark numbers: bootstrap intervals and paired tests over source images.

A benchmark's crops are not independent: several crops come from one source photo,
and crops of one photo share its content, so a model that fails on a photo fails on
all of its crops. Resampling crops would pretend there are as many independent
observations as crops and give intervals that are too narrow. Both functions here
therefore resample **source images** (``groups``): each bootstrap draw takes images
with replacement and keeps all the crops of every image drawn. See ``docs/statistics.md``.

Infinite values follow :func:`pixbench.metrics.aggregate`: a PSNR of ``+inf`` (a perfect
reconstruction) is left out of means (and, in a paired comparison, the pair is left
out), and counted; NaN and ``-inf`` are errors, since a metric never produces them
(a failed sample is recorded as a failure, not as a value).

Everything is seeded (``numpy.random.default_rng(seed)``), so equal inputs give equal outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: ``statistic(values, weights) -> (m,)``: a statistic of the rows of ``values`` under ``m`` weightings.
Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return weights @ values / weights.sum(axis=1)


def _accuracy(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    correct = (values[:, 0] == values[:, 1]).astype(np.float64)
    return weights @ correct / weights.sum(axis=1)


def _fp_rate(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    negative = values[:, 0] == 0
    false_positive = (negative & (values[:, 1] == 1)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights @ false_positive / (weights @ negative.astype(np.float64))


#: Named statistics. ``mean``: values ``(n,)``. ``accuracy``, ``fp_rate``: values ``(n, 2)`` of 0/1
#: ``(label, prediction)`` per crop, recomputed from the crops drawn (``fp_rate`` = FP / negatives).
STATISTICS: dict[str, Statistic] = {"mean": _weighted_mean, "accuracy": _accuracy, "fp_rate": _fp_rate}


@dataclass(frozen=True)
class Interval:
    """A statistic and its percentile bootstrap interval.

    Attributes:
        estimate: The statistic over all crops (None when undefined, e.g. no finite value).
        low, high: The interval's ends (None when undefined).
        confidence: The interval's nominal coverage, e.g. 0.95.
        n_groups: Source images resampled.
        n_values: Crops used; ``n_inf`` crops of ``+inf`` were left out of a mean.
    """

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float
    n_groups: int
    n_values: int
    n_inf: int = 0


def _check_common(groups: Sequence, n: int, n_resamples: int, confidence: float) -> np.ndarray:
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != n:
        raise ValueError(f"groups must be 1-D with one label per value ({n}), got shape {g.shape}")
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    return g


def _check_finite(values: np.ndarray, name: str) -> None:
    if np.isnan(values).any():
        raise ValueError(f"{name} contain NaN; leave failed samples out instead of passing NaN")
    if np.isneginf(values).any():
        raise ValueError(f"{name} contain -inf; a metric never produces it")


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    draws = draws[np.isfinite(draws)]  # a draw where the statistic is undefined (no negatives drawn) is skipped
    if draws.size == 0:
        return None, None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    values, groups, *, statistic: str | Statistic, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Percentile bootstrap interval of a statistic, resampling source images, not crops.

    Each of ``n_resamples`` draws picks as many source images as there are, with
    replacement, and recomputes the statistic over all crops of the images drawn (an
    image drawn twice counts twice). The interval is the ``(1 - confidence) / 2`` and
    ``1 - (1 - confidence) / 2`` quantiles of the draws (``numpy.quantile``, linear).

    Args:
        values: Per-crop values: ``(n,)`` for ``"mean"``; ``(n, 2)`` 0/1 label and prediction
            for ``"accuracy"`` and ``"fp_rate"``. For ``"mean"``, ``+inf`` values are left
            out and counted in ``n_inf``, as :func:`pixbench.metrics.aggregate` does.
        groups: The source image of each crop (any hashable labels, e.g. an image hash).
        statistic: A name in :data:`STATISTICS`, or ``f(values, weights) -> (m,)`` where
            ``weights`` is ``(m, n)``: how many times each crop is counted in each draw.
        n_resamples: Bootstrap draws.
        confidence: Nominal coverage of the interval.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        The statistic over all crops and its interval.

    Raises:
        ValueError: Shapes disagree, a value is NaN or ``-inf``, or an option is out of range.
    """
    fn = STATISTICS.get(statistic) if isinstance(statistic, str) else statistic
    if fn is None:
        raise ValueError(f"unknown statistic {statistic!r}; expected one of {', '.join(STATISTICS)} or a function")
    v = np.asarray(values, dtype=np.float64)
    g = _check_common(groups, v.shape[0] if v.ndim else -1, n_resamples, confidence)
    _check_finite(v, "values")
    n_inf = 0
    if statistic == "mean":
        if v.ndim != 1:
            raise ValueError(f"the mean statistic takes 1-D values, got shape {v.shape}")
        keep = np.isfinite(v)
        n_inf = int((~keep).sum())
        v, g = v[keep], g[keep]
    if v.shape[0] == 0:
        return Interval(None, None, None, confidence, 0, 0, n_inf)
    labels, index = np.unique(g, return_inverse=True)  # sorted labels: the draws do not depend on row order
    estimate = float(fn(v, np.ones((1, v.shape[0])))[0])
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(labels), np.full(len(labels), 1.0 / len(labels)), size=n_resamples)
    low, high = _percentiles(np.asarray(fn(v, counts[:, index].astype(np.float64)), dtype=np.float64), confidence)
    return Interval(
        estimate if np.isfinite(estimate) else None, low, high, confidence, len(labels), int(v.shape[0]), n_inf
    )


@dataclass(frozen=True)
class PairedDifference:
    """B minus A over source images (see :func:`paired_difference`).

    Attributes:
        difference: Mean over images of the per-image mean difference ``b - a``.
        low, high: Percentile bootstrap interval of ``difference`` over images.
        p_value: Two-sided sign-flip permutation p-value (1.0 when every difference is 0).
        exact: The p-value enumerates every sign pattern (else seeded Monte Carlo).
        images: The source images, sorted; ``per_image`` their mean differences, in that order.
        wins, ties, losses: Images where ``b`` is above, equal to, below ``a``.
        n_pairs: Crops compared; ``n_left_out`` crops were left out (``+inf`` on either side).
    """

    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    exact: bool
    confidence: float
    images: tuple
    per_image: np.ndarray
    wins: int
    ties: int
    losses: int
    n_pairs: int
    n_left_out: int


def _sign_flip_p(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> tuple[float, bool]:
    n = d.size
    observed = abs(d.mean())
    # Tolerance: a sign pattern that gives the observed mean up to rounding counts as "as extreme".
    tolerance = 1e-12 * max(1.0, float(np.abs(d).max()))
    if 2**n <= n_resamples:
        patterns = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        extreme = np.abs(patterns @ d / n) >= observed - tolerance
        return float(extreme.sum() / 2**n), True
    signs = rng.integers(0, 2, size=(n_resamples, n)) * 2 - 1
    k = int((np.abs(signs @ d / n) >= observed - tolerance).sum())
    return (k + 1) / (n_resamples + 1), False


def paired_difference(
    a, b, groups, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> PairedDifference:
    """Compare two models scored on the same crops: ``b - a``, over source images.

    Crops are first averaged within each source image (a photo with 7 crops counts
    once, like a photo with 1), giving one difference per image. Reported:

    - ``difference``: the mean of the per-image differences;
    - ``low``/``high``: a percentile bootstrap interval of that mean, resampling images;
    - ``p_value``: a two-sided **sign-flip permutation test** of "no difference": under
      that hypothesis each image's difference is as likely to have either sign, so the
      observed ``|mean|`` is compared with the ``|mean|`` under sign patterns. With
      ``2**n_images <= n_resamples`` every pattern is enumerated (``exact=True``; the
      smallest possible p is ``2 / 2**n_images``); otherwise ``n_resamples`` seeded random
      patterns are drawn and ``p = (k + 1) / (n_resamples + 1)``, where ``k`` patterns were
      at least as extreme (``exact=False``; never 0).

    Args:
        a, b: Per-crop values of the two models, aligned (``+inf`` allowed: such a pair is
            left out, as means leave out ``+inf``; counted in ``n_left_out``).
        groups: The source image of each crop.
        n_resamples: Bootstrap draws, and the most sign patterns drawn or enumerated.
        confidence: Nominal coverage of the interval.
        seed: Seed of ``numpy.random.default_rng``.

    Raises:
        ValueError: Shapes disagree, a value is NaN or ``-inf``, or an option is out of range.
    """
    av, bv = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if av.ndim != 1 or av.shape != bv.shape:
        raise ValueError(f"a and b must be 1-D of equal length, got shapes {av.shape} and {bv.shape}")
    g = _check_common(groups, av.shape[0], n_resamples, confidence)
    _check_finite(av, "a")
    _check_finite(bv, "b")
    keep = np.isfinite(av) & np.isfinite(bv)
    d, g = (bv - av)[keep], g[keep]
    n_left_out = int((~keep).sum())
    if d.size == 0:
        return PairedDifference(None, None, None, None, False, confidence, (), np.zeros(0), 0, 0, 0, 0, n_left_out)
    labels, index = np.unique(g, return_inverse=True)
    per_image = np.bincount(index, weights=d) / np.bincount(index)
    low, high, p_value, exact = _mean_tests(per_image, n_resamples, confidence, np.random.default_rng(seed))
    return PairedDifference(
        difference=float(per_image.mean()),
        low=low,
        high=high,
        p_value=p_value,
        exact=exact,
        confidence=confidence,
        images=tuple(labels.tolist()),
        per_image=per_image,
        wins=int((per_image > 0).sum()),
        ties=int((per_image == 0).sum()),
        losses=int((per_image < 0).sum()),
        n_pairs=int(d.size),
        n_left_out=n_left_out,
    )


def _mean_tests(
    per_image: np.ndarray, n_resamples: int, confidence: float, rng: np.random.Generator
) -> tuple[float | None, float | None, float, bool]:
    """The bootstrap interval of the mean of ``per_image``, then its sign-flip p-value (in that order from ``rng``)."""
    n = per_image.size
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples)
    low, high = _percentiles(counts @ per_image / n, confidence)
    if not per_image.any():
        return low, high, 1.0, 2**n <= n_resamples
    p_value, exact = _sign_flip_p(per_image, n_resamples, rng)
    return low, high, p_value, exact
