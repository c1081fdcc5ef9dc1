"""Binary classification metrics (for the ``detect`` task) and per-group breakdowns."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _ratio(num: int, den: int) -> float:
    # Defined value for an empty denominator (no positives, no predicted positives, ...):
    # 0.0, the same as scikit-learn's zero_division=0, and no warning.
    return num / den if den else 0.0


def _check_labels(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64) if np.asarray(y_score).dtype != object else None
    if s is None:
        raise ValueError("y_score must be numeric")
    if t.ndim != 1 or s.ndim != 1 or t.shape != s.shape:
        raise ValueError(f"y_true and y_score must be 1-D of equal length, got shapes {t.shape} and {s.shape}")
    if t.size == 0:
        raise ValueError("y_true is empty; classification metrics need at least one sample")
    if t.dtype != np.bool_:
        if not np.issubdtype(t.dtype, np.number) or not np.isin(t, (0, 1)).all():
            bad = t[~np.isin(t, (0, 1))][:5].tolist() if np.issubdtype(t.dtype, np.number) else t[:5].tolist()
            raise ValueError(f"y_true must hold 0/1 or bool labels, got values like {bad}")
    if not np.isfinite(s).all():
        raise ValueError(
            f"y_score contains non-finite values (first at index {int(np.flatnonzero(~np.isfinite(s))[0])})"
        )
    return t.astype(bool), s


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float | None:
    """Area under the ROC curve, as the Mann-Whitney U statistic (ties count one half).

    Returns None when only one class is present (the curve is undefined).
    """
    t, s = _check_labels(y_true, y_score)
    n_pos = int(t.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    # Imported here: scipy.stats costs about a second to import, which every user of
    # pixbench.metrics would otherwise pay.
    from scipy.stats import rankdata

    ranks = rankdata(s)  # average ranks give ties half credit
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_metrics(y_true, y_score, *, threshold: float = 0.5) -> dict:
    """Confusion matrix and derived metrics at ``threshold``, plus the threshold-free ROC-AUC.

    A sample is predicted positive when ``score >= threshold``.

    Args:
        y_true: 0/1 or bool labels (1 = degraded / positive).
        y_score: Scores or probabilities for the positive class, same length.
        threshold: Decision threshold on the score.

    Returns:
        ``accuracy, precision, recall, f1, fpr, fnr`` (floats; a ratio whose denominator
        is zero is 0.0), ``roc_auc`` (None when only one class is present), the counts
        ``tp, fp, tn, fn, n`` and ``threshold``.

    Raises:
        ValueError: Lengths differ, labels are not 0/1, scores are not finite, or no samples.
    """
    if not isinstance(threshold, (int, float, np.integer, np.floating)) or not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    t, s = _check_labels(y_true, y_score)
    pred = s >= threshold
    tp = int(np.sum(pred & t))
    fp = int(np.sum(pred & ~t))
    tn = int(np.sum(~pred & ~t))
    fn = int(np.sum(~pred & t))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "accuracy": (tp + tn) / t.size,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "fpr": _ratio(fp, fp + tn),
        "fnr": _ratio(fn, fn + tp),
        "roc_auc": roc_auc(t, s),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "n": int(t.size),
        "threshold": float(threshold),
    }


def calibration(y_true, y_score, *, bins: int = 10) -> dict:
    """How well probabilities of the positive class match observed frequencies.

    Scores are cut into ``bins`` equal-width bins over [0, 1] (a score of exactly 1.0 goes in
    the last bin). Per bin: the count, the mean score, and the fraction of positives. The
    expected calibration error is ``sum_b n_b / N * |positive_rate_b - mean_score_b|`` over
    non-empty bins: the reliability diagram of P(degraded). (torchmetrics' binary ECE bins
    the *top-label* confidence ``max(p, 1 - p)`` against accuracy instead; on the same scores
    the two differ.) The Brier score is ``mean((score - label)^2)``.

    Args:
        y_true: 0/1 or bool labels.
        y_score: Probabilities of the positive class, in [0, 1].
        bins: Number of equal-width bins, >= 1.

    Returns:
        ``ece``, ``brier``, and ``bins``: a list of ``{low, high, n, mean_score, positive_rate}``
        (``mean_score`` and ``positive_rate`` are None for an empty bin).

    Raises:
        ValueError: As :func:`classification_metrics`, or scores outside [0, 1], or ``bins < 1``.
    """
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    t, s = _check_labels(y_true, y_score)
    if s.min() < 0 or s.max() > 1:
        raise ValueError(f"scores must be probabilities in [0, 1], got values in [{s.min():g}, {s.max():g}]")
    index = np.minimum((s * bins).astype(np.int64), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        mean_score = float(s[inside].mean()) if n else None
        rate = float(t[inside].mean()) if n else None
        if n:
            ece += n / s.size * abs(rate - mean_score)
        table.append({"low": b / bins, "high": (b + 1) / bins, "n": n, "mean_score": mean_score, "positive_rate": rate})
    return {"ece": float(ece), "brier": float(np.mean((s - t) ** 2)), "bins": table}


def _group_key(value) -> str:
    """A stable string key: ``2`` and ``2.0`` both become ``"2"``, missing becomes ``"n/a"``."""
    import pandas as pd

    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "n/a"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def breakdown(
    frame: pd.DataFrame, by: str, *, label_col: str = "label", score_col: str = "score", threshold: float = 0.5
) -> dict[str, dict]:
    """Classification metrics for each value of the column ``by`` (e.g. accuracy per factor).

    Args:
        frame: One row per sample, with label, score and metadata columns.
        by: Column to group by; missing values form the group ``"n/a"``.
        label_col: Column of 0/1 labels.
        score_col: Column of scores.
        threshold: Decision threshold, as in :func:`classification_metrics`.

    Returns:
        ``{group key: classification_metrics(...)}``, keys in sorted order of the values.

    Raises:
        ValueError: A named column is missing.
    """
    for role, col in (("by", by), ("label_col", label_col), ("score_col", score_col)):
        if col not in frame.columns:
            raise ValueError(f"{role}={col!r} is not a column; columns are {list(frame.columns)}")
    out: dict[str, dict] = {}
    for value, group in frame.groupby(by, dropna=False, sort=True):
        out[_group_key(value)] = classification_metrics(
            group[label_col].to_numpy(), group[score_col].to_numpy(), threshold=threshold
        )
    return out
