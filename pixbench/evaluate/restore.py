"""Scoring restoration models (depixelate, jpeg, blockcnn, inpaint) sample by sample, and their means.

Every metric is computed twice: on the model's output and on the degraded input
itself, so a model that makes images worse shows at once. Outputs are rounded
and clipped to uint8 first, exactly as saving them would.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixbench.datasets import Sample
from pixbench.errors import ModelError, PixbenchError
from pixbench.runtime import BLOCK, Runner
from pixbench.tasks import get_task

#: Largest side of the centre crops kept for the ``<stem>.crops.png`` strip.
CROP = 128
CROP_SAMPLES = 4


@dataclass
class RestorationScores:
    """Per-sample rows, failure counts, and the crops for the preview strip."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    crops: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    lpips_note: str | None = None


def image_metrics(
    task: str,
    reference: np.ndarray,
    test: np.ndarray,
    mask: np.ndarray | None,
    lpips: Callable[[np.ndarray, np.ndarray], float] | None,
    meta: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The image metrics of ``task`` for one ``(reference, test)`` pair of ``HxWx3 uint8`` images.

    The metrics are the task's (:meth:`pixbench.tasks.Task.sample_metrics` of the sample's
    metadata row ``meta``: by default :meth:`~pixbench.tasks.Task.image_metrics`, which validation
    during training uses too), plus LPIPS when ``lpips`` is given.
    """
    out = get_task(task).sample_metrics(reference, test, mask, meta or {})
    if lpips is not None:
        out["lpips"] = float(lpips(reference, test))
    return out


def make_lpips() -> tuple[Callable[[np.ndarray, np.ndarray], float] | None, str | None]:
    """The LPIPS metric, or ``None`` and the reason it is not available (missing weights or extra)."""
    from pixbench import metrics
    from pixbench.errors import WeightsNotFoundError
    from pixbench.extras import MissingExtraError

    try:
        return metrics.LPIPS(), None
    except (WeightsNotFoundError, MissingExtraError) as exc:
        # The reason goes into result files that may be published: the home folder is written as ~.
        home = str(Path.home())
        return None, str(exc).replace(home + os.sep, "~" + os.sep) if home not in ("", os.sep) else str(exc)


def score_restoration(
    runner: Runner,
    task: str,
    samples: Iterable[Sample],
    *,
    columns: list[str],
    use_lpips: bool = True,
    on_sample: Callable[[], None] | None = None,
) -> RestorationScores:
    """Run ``runner`` over ``samples`` and score each output against its target.

    A sample whose output has the wrong shape or holds NaN/Inf is counted in
    ``failures`` (by reason) and keeps a row with the reason, but no metrics.

    Args:
        runner: The model and how to feed it.
        task: The dataset task.
        samples: The samples to score, in order.
        columns: Metadata columns copied into each row (for breakdowns).
        use_lpips: Try LPIPS; when its weights are missing the reason is kept as ``lpips_note``.
        on_sample: Called after each sample (progress).
    """
    scores = RestorationScores()
    lpips = None
    if use_lpips:
        lpips, scores.lpips_note = make_lpips()
    else:
        scores.lpips_note = "disabled with --no-lpips"
    for sample in samples:
        row: dict[str, Any] = {"sample_id": sample.sample_id, **{c: sample.meta.get(c, "") for c in columns}}
        try:
            output = runner.restore(sample.input, mask=sample.mask, lowres=sample.lowres)
            if output.shape != sample.target.shape:
                raise ModelError(f"output shape {output.shape} differs from the target's {sample.target.shape}")
        except PixbenchError as exc:
            reason = str(exc)
            scores.failures[reason] += 1
            row["failure"] = reason
            scores.rows.append(row)
            if on_sample:
                on_sample()
            continue
        for who, image in (("model", output), ("degraded", sample.input)):
            for key, value in image_metrics(task, sample.target, image, sample.mask, lpips, sample.meta).items():
                row[f"{who}_{key}"] = value
        row["failure"] = ""
        scores.rows.append(row)
        if len(scores.crops) < CROP_SAMPLES:
            scores.crops.append((sample.sample_id, sample.input, output, sample.target))
        if on_sample:
            on_sample()
    return scores


def score_triplets(runner: Runner, contexts: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """A blockwise model on its dataset's own triplets: the task's block metrics, model vs degraded.

    The metrics are :meth:`pixbench.tasks.Task.block_metrics` of the dataset's task (a PSNR pooled
    over all 8x8 centre blocks); the degraded block is the centre of each 24x24 context.
    """
    task = get_task(runner.spec.task)
    out = runner.restore_triplets(contexts)
    degraded = np.asarray(contexts[:, BLOCK : 2 * BLOCK, BLOCK : 2 * BLOCK])
    target = np.asarray(targets)
    return {
        "n": int(len(target)),
        "model": task.block_metrics(target, out),
        "degraded": task.block_metrics(target, degraded),
    }


def crops_strip(crops: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, int]:
    """3 rows (degraded input, model output, clean target) x up to 4 columns of centre crops.

    Returns:
        The ``uint8`` strip and the side of each square crop.
    """
    side = min([CROP] + [min(img.shape[:2]) for _, img, _, _ in crops])
    rows = []
    for which in (1, 2, 3):
        cells = []
        for crop in crops:
            img = crop[which]
            y, x = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
            cells.append(img[y : y + side, x : x + side])
        rows.append(np.concatenate(cells, axis=1))
    return np.ascontiguousarray(np.concatenate(rows, axis=0)), side


def restoration_means(rows: list[dict[str, Any]], lpips_note: str | None) -> dict[str, Any]:
    """Mean of each metric over the scored samples (``aggregate`` from the metrics module)."""
    from pixbench import metrics

    good = [r for r in rows if not r.get("failure")]
    out: dict[str, Any] = {"model": {}, "degraded": {}, "aggregates": {"model": {}, "degraded": {}}}
    keys = sorted({k for r in good for k in r if k.startswith(("model_", "degraded_"))})
    for key in keys:
        who, name = key.split("_", 1)
        agg = metrics.aggregate([r[key] for r in good])
        out[who][name] = agg["mean"]
        out["aggregates"][who][name] = agg
    if "lpips" not in out["model"]:
        out["model"]["lpips"] = out["degraded"]["lpips"] = None
        out["lpips_note"] = lpips_note
    return out


def restoration_breakdown(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
    """Means of the model's and the degraded input's metrics per value of each metadata column."""
    frame = pd.DataFrame([r for r in rows if not r.get("failure")])
    out: dict[str, Any] = {}
    for col in columns:
        if frame.empty or col not in frame or (frame[col].astype(str) == "").all():
            continue
        groups: dict[str, Any] = {}
        for value, part in frame.groupby(frame[col].astype(str), sort=True):
            num = part[[c for c in part.columns if c.startswith(("model_", "degraded_"))]]
            finite = num.replace([np.inf, -np.inf], np.nan)
            groups[value] = {"n": int(len(part)), **{c: float(v) for c, v in finite.mean().items()}}
        out[col] = groups
    return out
