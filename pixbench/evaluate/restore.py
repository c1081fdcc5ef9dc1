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
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixbench.datasets import Sample
from pixbench.errors import ModelError, PixbenchError
from pixbench.evaluate.lpips_cache import SampleLPIPS, cache_folder
from pixbench.metrics import psnr
from pixbench.results import sample_image
from pixbench.runtime import BLOCK, Runner
from pixbench.tasks import get_task

#: Largest side of the centre crops kept for the ``<stem>.crops.png`` strip.
CROP = 128
#: Crops kept for the strip: the first scored sample of each of the first ``CROP_SAMPLES`` source photos.
CROP_SAMPLES = 4


@dataclass
class KeptCrop:
    """A scored sample kept for the crops strip: its id, its source photo, and its three whole images."""

    sample_id: str
    source: str
    degraded: np.ndarray
    output: np.ndarray
    target: np.ndarray


@dataclass
class RestorationScores:
    """Per-sample rows, failure counts, and the crops for the preview strip."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    crops: list[KeptCrop] = field(default_factory=list)
    lpips_note: str | None = None

    def keep(self, sample: Sample, output: np.ndarray) -> None:
        """Keep ``sample`` for the strip if it is the first scored one of a new source photo (up to
        :data:`CROP_SAMPLES` photos), so that the strip shows different photos rather than neighbouring
        crops of the first one."""
        source = str(sample.meta.get("source_id") or sample_image(sample.sample_id))
        if len(self.crops) < CROP_SAMPLES and all(c.source != source for c in self.crops):
            self.crops.append(KeptCrop(sample.sample_id, source, sample.input, output, sample.target))


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


def make_lpips(cache: tuple[Path, str] | None = None) -> tuple[SampleLPIPS | None, str | None]:
    """LPIPS per sample, or ``None`` and the reason it is not available (missing weights or extra).

    Args:
        cache: The dataset's folder and fingerprint, to keep the targets' features and the degraded
            inputs' distances there (:mod:`pixbench.evaluate.lpips_cache`); None keeps nothing on disk.
    """
    from pixbench import metrics
    from pixbench.errors import WeightsNotFoundError
    from pixbench.extras import MissingExtraError

    try:
        metric = metrics.LPIPS()
        folder = None if cache is None else cache_folder(cache[0], cache[1], metric.engine)
        return SampleLPIPS(metric, folder), None
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
    lpips_cache: tuple[Path, str] | None = None,
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
        lpips_cache: The dataset's folder and fingerprint, where LPIPS keeps what every model shares.
        on_sample: Called after each sample (progress).
    """
    scores = RestorationScores()
    lpips = None
    if use_lpips:
        lpips, scores.lpips_note = make_lpips(lpips_cache)
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
            metric = None if lpips is None else partial(lpips.distance, sample.sample_id, degraded=who == "degraded")
            for key, value in image_metrics(task, sample.target, image, sample.mask, metric, sample.meta).items():
                row[f"{who}_{key}"] = value
        row["failure"] = ""
        scores.rows.append(row)
        scores.keep(sample, output)
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


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    y, x = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[y : y + side, x : x + side]


def crops_strip(crops: list[KeptCrop]) -> tuple[np.ndarray, int]:
    """3 rows (degraded input, model output, clean target) x one column per kept crop, cut at each image's centre.

    Returns:
        The ``uint8`` strip and the side of each square crop.
    """
    side = crop_side(crops)
    rows = [
        np.concatenate([_centre(getattr(crop, which), side) for crop in crops], axis=1)
        for which in ("degraded", "output", "target")
    ]
    return np.ascontiguousarray(np.concatenate(rows, axis=0)), side


def crop_side(crops: list[KeptCrop]) -> int:
    """The side of the strip's square crops: :data:`CROP`, or the smallest image side when one is smaller."""
    return min([CROP] + [min(crop.degraded.shape[:2]) for crop in crops])


def crop_values(crops: list[KeptCrop]) -> list[dict[str, Any]]:
    """Per kept crop: its sample, its source photo, and the PSNR (RGB, over the crop) of the model's output
    and of the degraded input against the clean crop: the values of exactly the pixels the strip shows."""
    side = crop_side(crops)
    out = []
    for crop in crops:
        clean = _centre(crop.target, side)
        out.append(
            {
                "sample_id": crop.sample_id,
                "source": crop.source,
                "model_psnr": psnr(clean, _centre(crop.output, side), data_range=255),
                "degraded_psnr": psnr(clean, _centre(crop.degraded, side), data_range=255),
            }
        )
    return out


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
