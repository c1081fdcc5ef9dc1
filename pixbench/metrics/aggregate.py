"""Explicit means of per-image metric values, with infinities reported, not hidden."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def aggregate(values: Iterable[float], *, inf_cap: float | None = None) -> dict:
    """Summarise per-image values of one metric.

    A PSNR of ``+inf`` (a perfect reconstruction) cannot be averaged meaningfully, so
    by default it is counted in ``n_inf`` and left out of ``mean``/``std``/``median``.
    With ``inf_cap`` set (some papers cap PSNR at 100 dB), each ``+inf`` is replaced
    by the cap and included instead; ``n_inf`` still counts them.

    Args:
        values: Per-image values (floats, ``+inf`` allowed).
        inf_cap: If given, the value that stands in for ``+inf`` in the statistics.

    Returns:
        ``{"mean", "std", "median", "min", "max", "n", "n_finite", "n_inf", "inf_cap"}``.
        ``n`` counts every value; the statistics are over the finite (or capped) values;
        they are ``None`` when there are none. ``std`` is the population standard deviation.

    Raises:
        ValueError: A value is NaN or ``-inf`` (a metric never produces these; it means
            a failed sample that should be counted as a failure instead).
    """
    arr = np.asarray(list(values), dtype=np.float64).ravel()
    if np.isnan(arr).any():
        raise ValueError(
            f"values contain NaN at index {int(np.flatnonzero(np.isnan(arr))[0])}; "
            "record failed samples as failures, not as metric values"
        )
    if np.isneginf(arr).any():
        raise ValueError(f"values contain -inf at index {int(np.flatnonzero(np.isneginf(arr))[0])}")
    if inf_cap is not None and not math.isfinite(inf_cap):
        raise ValueError(f"inf_cap must be a finite number or None, got {inf_cap!r}")
    is_inf = np.isposinf(arr)
    used = np.where(is_inf, inf_cap, arr) if inf_cap is not None else arr[~is_inf]
    stats: dict = {"mean": None, "std": None, "median": None, "min": None, "max": None}
    if used.size:
        stats = {
            "mean": float(used.mean()),
            "std": float(used.std()),
            "median": float(np.median(used)),
            "min": float(used.min()),
            "max": float(used.max()),
        }
    return {
        **stats,
        "n": int(arr.size),
        "n_finite": int(arr.size - is_inf.sum()),
        "n_inf": int(is_inf.sum()),
        "inf_cap": inf_cap,
    }
