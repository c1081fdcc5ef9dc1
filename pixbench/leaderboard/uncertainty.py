"""The uncertainty a table shows: bootstrap intervals per row, and each row paired with the row below.

Both come from the per-sample CSVs beside the result files (:func:`pixbench.results.read_samples`)
and from :mod:`pixbench.metrics.statistics`, which resamples source images, not crops.
A row without a per-sample file gets no interval; two rows are paired only when their
files list the same samples. Every computation is seeded, so tables rebuild byte-identically.
See ``docs/statistics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pixbench.leaderboard.group import Table
from pixbench.metrics import Interval, PairedDifference, bootstrap_ci, paired_difference
from pixbench.results import Result, ResultFileError, Samples, read_samples
from pixbench.tasks import get_task, primary_metric

#: Metric keys that get an interval wherever a table shows them (besides the primary metric).
INTERVAL_KEYS = ("psnr", "psnr_full", "ssim", "accuracy", "fpr", "fp_area")
N_RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0
#: A row's order versus the next is significant when the paired p-value is below this.
ALPHA = 0.05
#: Detection keys recomputed from the drawn crops' labels and predictions.
_OUTCOME_STATISTICS = {"accuracy": "accuracy", "fpr": "fp_rate"}


@dataclass
class RowStats:
    """One row's intervals (by metric key) and its paired comparison with the row below (None if not paired)."""

    intervals: dict[str, Interval] = field(default_factory=dict)
    vs_next: PairedDifference | None = None

    @property
    def tied_with_next(self) -> bool:
        """The order versus the next row is not significant at :data:`ALPHA`."""
        return self.vs_next is not None and self.vs_next.p_value is not None and self.vs_next.p_value >= ALPHA


def interval_keys(task: str) -> list[str]:
    """The metric keys of a task's table that carry an interval, in column order."""
    primary = primary_metric(task)
    return [c.key for c in get_task(task).columns if c.key == primary or c.key in INTERVAL_KEYS]


def interval(samples: Samples, key: str, *, seed: int = SEED) -> Interval | None:
    """The bootstrap interval of one metric of one result, or None when its samples lack the metric."""
    outcomes = samples.outcomes()
    if key in _OUTCOME_STATISTICS and outcomes is not None:
        keep = ~np.isnan(outcomes).any(axis=1)
        if not keep.any():
            return None
        return bootstrap_ci(
            outcomes[keep],
            samples.images[keep],
            statistic=_OUTCOME_STATISTICS[key],
            n_resamples=N_RESAMPLES,
            confidence=CONFIDENCE,
            seed=seed,
        )
    values = samples.values(key)
    if values is None:
        return None
    keep = ~np.isnan(values)
    if not keep.any():
        return None
    return bootstrap_ci(
        values[keep], samples.images[keep], statistic="mean", n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=seed
    )


def same_samples(a: Samples, b: Samples) -> np.ndarray | None:
    """Where each of ``a``'s samples is in ``b``, or None when the two files do not list the same samples."""
    if len(a.ids) != len(b.ids) or len(set(a.ids.tolist())) != len(a.ids):
        return None
    where = {sample: i for i, sample in enumerate(b.ids.tolist())}
    if len(where) != len(b.ids) or any(sample not in where for sample in a.ids.tolist()):
        return None
    return np.array([where[sample] for sample in a.ids.tolist()], dtype=np.int64)


def paired(a: Samples, b: Samples, key: str, *, seed: int = SEED) -> PairedDifference | None:
    """``b - a`` on one metric over the samples both scored, or None when they were not scored on the same samples."""
    order = same_samples(a, b)
    va, vb = a.values(key), b.values(key)
    if order is None or va is None or vb is None:
        return None
    vb = vb[order]
    keep = ~np.isnan(va) & ~np.isnan(vb)
    if not keep.any():
        return None
    return paired_difference(
        va[keep], vb[keep], a.images[keep], n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=seed
    )


def load_samples(results: list[Result]) -> tuple[list[Samples | None], list[str]]:
    """Each result's per-sample file (None when missing or unreadable), and notes on unreadable ones."""
    loaded, notes = [], []
    for result in results:
        try:
            loaded.append(read_samples(result))
        except ResultFileError as exc:
            loaded.append(None)
            notes.append(f"no intervals for {result.model.name}: {exc}")
    return loaded, notes


def table_statistics(table: Table) -> list[RowStats]:
    """Intervals and paired comparisons of every row of a table, in rank order."""
    samples, _ = load_samples(table.results)
    keys = interval_keys(table.task)
    primary = primary_metric(table.task)
    stats = []
    for i, rows in enumerate(samples):
        row = RowStats()
        if rows is not None:
            row.intervals = {k: ci for k in keys if (ci := interval(rows, k)) is not None}
            below = samples[i + 1] if i + 1 < len(samples) else None
            if below is not None:
                # This row minus the row below: positive when the ranking's order holds.
                row.vs_next = paired(below, rows, primary)
        stats.append(row)
    return stats
