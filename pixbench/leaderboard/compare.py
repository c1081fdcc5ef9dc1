"""Two result files of one benchmark, compared sample by sample (``pixbench compare A.json B.json``).

The same paired analysis as a table's "vs next" column, for every metric of the task's
table that the per-sample files hold (LPIPS too, lower being better, in a restoration table): B minus A over source images, a bootstrap
interval, a sign-flip permutation p-value, and wins, ties and losses over images
(:func:`pixbench.metrics.paired_difference`). Results scored on different evaluation
sets are refused, naming what differs. See ``docs/statistics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pixbench.leaderboard.uncertainty import CONFIDENCE, N_RESAMPLES, SEED, same_samples
from pixbench.metrics import PairedDifference, paired_difference
from pixbench.results import LOWER_IS_BETTER, Result, ResultFileError, Samples, read_samples
from pixbench.tasks import Column, get_task, primary_metric


@dataclass
class MetricComparison:
    """One metric of A and B: their means over the crops both scored, and B minus A over source images."""

    key: str
    name: str
    lower_is_better: bool
    mean_a: float
    mean_b: float
    test: PairedDifference

    @property
    def b_wins(self) -> int:
        """Images where B is better (above A, or below it for a lower-is-better metric)."""
        return self.test.losses if self.lower_is_better else self.test.wins

    @property
    def b_losses(self) -> int:
        return self.test.wins if self.lower_is_better else self.test.losses

    def worst_for_b(self, n: int) -> list[tuple[str, float]]:
        """Up to ``n`` source images where B loses most to A, worst first, with their mean difference B - A."""
        sign = -1.0 if self.lower_is_better else 1.0
        order = np.lexsort((np.array(self.test.images), sign * self.test.per_image))  # ties break on the image name
        return [
            (str(self.test.images[i]), float(self.test.per_image[i]))
            for i in order[:n]
            if sign * self.test.per_image[i] < 0
        ]


@dataclass
class Comparison:
    """A compared with B on every per-sample metric of their task's table; ``primary`` ranks tables."""

    a: Result
    b: Result
    primary: str
    n_samples: int
    metrics: list[MetricComparison]

    def as_dict(self, *, top: int = 5) -> dict[str, Any]:
        """A JSON-ready summary; ``worst_images_for_b`` lists the ``top`` images where B loses most per metric."""
        return {
            "a": {"model": self.a.model.name, "result": self.a.path.as_posix()},
            "b": {"model": self.b.model.name, "result": self.b.path.as_posix()},
            "task": self.a.task,
            "dataset_fingerprint": self.a.fingerprint,
            "split": self.a.split,
            "subset": self.a.subset,
            "samples": self.n_samples,
            "primary": self.primary,
            "confidence": CONFIDENCE,
            "n_resamples": N_RESAMPLES,
            "seed": SEED,
            "metrics": {
                m.name: {
                    "key": m.key,
                    "lower_is_better": m.lower_is_better,
                    "mean_a": m.mean_a,
                    "mean_b": m.mean_b,
                    "difference": m.test.difference,
                    "ci_low": m.test.low,
                    "ci_high": m.test.high,
                    "p_value": m.test.p_value,
                    "p_exact": m.test.exact,
                    "images": len(m.test.images),
                    "crops": m.test.n_pairs,
                    "crops_left_out": m.test.n_left_out,
                    "b_wins": m.b_wins,
                    "ties": m.test.ties,
                    "b_losses": m.b_losses,
                    "worst_images_for_b": [{"image": image, "difference": d} for image, d in m.worst_for_b(top)],
                }
                for m in self.metrics
            },
        }


def check_comparable(a: Result, b: Result) -> None:
    """Refuse two results that were not scored on the same evaluation set, naming what differs.

    Raises:
        ResultFileError: Task, dataset fingerprint, split or subset (``--limit``/``--factor``) differ.
    """
    checks = [
        ("task", a.task, b.task),
        ("dataset fingerprint", a.fingerprint, b.fingerprint),
        ("split", a.split, b.split),
        ("subset", a.subset or "whole split", b.subset or "whole split"),
    ]
    differ = [f"{what} {x} vs {y}" for what, x, y in checks if x != y]
    if differ:
        raise ResultFileError(f"{a.path.name} and {b.path.name} are not comparable: {'; '.join(differ)}")


def _samples(result: Result) -> Samples:
    samples = read_samples(result)
    if samples is None:
        raise ResultFileError(
            f"{result.path}: no per-sample file beside it ({result.per_sample!r}); "
            "re-run `pixbench evaluate` to write one"
        )
    return samples


#: LPIPS, which every restoration table shows after the task's own columns (``render.py``).
LPIPS_COLUMN = Column(name="lpips", header="LPIPS", key="lpips", fmt="f4", channel="RGB")


def compared_columns(task: str) -> list[Column]:
    """The task's table columns, then LPIPS for a restoration task (as its table shows it)."""
    spec = get_task(task)
    columns = list(spec.columns)
    if spec.restores and all(c.key != LPIPS_COLUMN.key for c in columns):
        columns.append(LPIPS_COLUMN)
    return columns


def compare_results(a: Result, b: Result, *, seed: int = SEED) -> Comparison:
    """Compare B with A on every metric of the task's table (LPIPS included) that both per-sample files hold.

    Raises:
        ResultFileError: The results are not comparable (:func:`check_comparable`), a per-sample
            file is missing, or the two files do not list the same samples.
    """
    check_comparable(a, b)
    sa, sb = _samples(a), _samples(b)
    order = same_samples(sa, sb)
    if order is None:
        raise ResultFileError(
            f"{sa.path.name} and {sb.path.name} do not list the same samples; "
            "compare results scored on the same samples"
        )
    metrics = []
    for column in compared_columns(a.task):
        va, vb = sa.values(column.key), sb.values(column.key)
        if va is None or vb is None:
            continue  # not a per-sample metric (precision, ROC-AUC, the BlockCNN block scores)
        vb = vb[order]
        keep = ~np.isnan(va) & ~np.isnan(vb)
        if not keep.any():
            continue
        test = paired_difference(
            va[keep], vb[keep], sa.images[keep], n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=seed
        )
        finite = np.isfinite(va[keep]) & np.isfinite(vb[keep])
        metrics.append(
            MetricComparison(
                key=column.key,
                name=column.name,
                lower_is_better=column.key in LOWER_IS_BETTER,
                mean_a=float(va[keep][finite].mean()) if finite.any() else float("nan"),
                mean_b=float(vb[keep][finite].mean()) if finite.any() else float("nan"),
                test=test,
            )
        )
    if not metrics:
        raise ResultFileError(f"{sa.path.name}: no per-sample metric of the {a.task} table to compare")
    return Comparison(a=a, b=b, primary=primary_metric(a.task), n_samples=len(sa.ids), metrics=metrics)
