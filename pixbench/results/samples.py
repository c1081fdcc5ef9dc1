"""A result's per-sample file (``<stem>.samples.csv``): one row per scored sample, read for intervals and tests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixbench.results.document import Result, ResultFileError
from pixbench.results.values import METRIC_ALIASES, number

#: Metric keys where a lower value is better; every other metric is better higher.
LOWER_IS_BETTER = frozenset({"fpr", "fnr", "l1_hole", "mse_hole", "l1_full", "mse_full", "lpips"})


def sample_image(sample_id: str) -> str:
    """The source image of a sample: ``sample_id`` is ``<16 hex of the source image's hash>-<index>``."""
    return sample_id.rsplit("-", 1)[0]


@dataclass
class Samples:
    """A result's ``<stem>.samples.csv``: one entry per sample, in the file's order.

    Attributes:
        ids: ``sample_id`` of each sample.
        images: The source image of each sample (:func:`sample_image`).
        failed: The sample was not scored (its ``failure`` is not empty).
        columns: Every numeric column, NaN where empty.
        threshold: Detection only: a score at or above it predicts "degraded".
    """

    path: Path
    ids: np.ndarray
    images: np.ndarray
    failed: np.ndarray
    columns: dict[str, np.ndarray]
    threshold: float = 0.5

    def values(self, key: str, *, who: str = "model") -> np.ndarray | None:
        """Per-sample values of a metric key, NaN where a sample has none; None if the file lacks it.

        Restoration keys read ``<who>_<key>`` (or an alias of :data:`METRIC_ALIASES`). Detection
        keys are 0/1 outcomes per crop: ``accuracy`` (prediction equals label), ``fpr`` (predicted
        degraded; NaN on degraded crops) and ``recall`` (predicted degraded; NaN on clean crops).
        """
        outcomes = self.outcomes()
        if outcomes is not None and key in ("accuracy", "fpr", "recall"):
            label, prediction = outcomes[:, 0], outcomes[:, 1]
            if key == "accuracy":
                return np.where(np.isnan(label), np.nan, (label == prediction).astype(np.float64))
            return np.where(label == (0 if key == "fpr" else 1), prediction, np.nan)
        for name in METRIC_ALIASES.get(key, (key,)):
            column = self.columns.get(f"{who}_{name}")
            if column is not None:
                return np.where(self.failed, np.nan, column)
        return None

    def outcomes(self) -> np.ndarray | None:
        """``(n, 2)`` detection label and prediction (0/1, NaN for failed samples); None if not detection."""
        label, score = self.columns.get("label"), self.columns.get("score")
        if label is None or score is None:
            return None
        bad = self.failed | np.isnan(label) | np.isnan(score)
        prediction = (np.nan_to_num(score) >= self.threshold).astype(np.float64)
        return np.stack([np.where(bad, np.nan, label), np.where(bad, np.nan, prediction)], axis=1)


def samples_path(result: Result) -> Path:
    """The per-sample CSV of a result: its ``per_sample`` field, else ``<stem>.samples.csv``."""
    if result.path is None:
        raise ValueError("the result has no path, so its per-sample file cannot be found; set Result.path")
    name = result.per_sample
    if isinstance(name, str) and name and Path(name).name == name:
        return result.path.parent / name
    return result.path.with_name(result.path.name.removesuffix(".json") + ".samples.csv")


def read_samples(result: Result) -> Samples | None:
    """Read the per-sample CSV beside a result; None when there is none.

    Raises:
        ResultFileError: The file exists but has no ``sample_id`` column or cannot be read.
    """
    path = samples_path(result)
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ResultFileError(f"{path}: unreadable per-sample file: {exc}") from None
    if not rows or "sample_id" not in rows[0]:
        raise ResultFileError(f"{path}: per-sample file has no rows or no sample_id column (see docs/result-format.md)")
    columns: dict[str, np.ndarray] = {}
    for name in rows[0]:
        if name in ("sample_id", "failure"):
            continue
        try:
            columns[name] = np.array([float(r[name]) if r[name] not in ("", None) else np.nan for r in rows])
        except ValueError:
            continue  # a text column (down_kernel, negative_kind): not a metric
    ids = np.array([r["sample_id"] for r in rows])
    threshold = number(result.model_metrics.get("threshold"))
    return Samples(
        path=path,
        ids=ids,
        images=np.array([sample_image(i) for i in ids]),
        failed=np.array([bool(r.get("failure")) for r in rows]),
        columns=columns,
        threshold=0.5 if threshold is None else threshold,
    )
