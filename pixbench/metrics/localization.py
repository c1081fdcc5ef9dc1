"""Mosaic localization metrics: a predicted probability map against a true mask (``docs/metrics.md``).

Per image, :func:`localization_scores` thresholds the map at 0.5 and gives the pixel IoU and F1
(an image with no true pixel and no predicted one scores 1.0 on both), the false-positive area
(the share of pixels predicted positive, reported on images without regions), the match of every
connected component of the true mask, and a histogram of the probabilities of true and false
pixels. :func:`summarize` pools those over a set of images: mean IoU and F1 over images, pixel
average precision over the pooled histograms, region recall over the pooled components, mean
false-positive area over the images without regions. Where a model also reports the block side
of the mosaic it sees, :func:`block_error` scores it on each region found and
:func:`block_breakdown` pools those errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

#: Probabilities are binned to multiples of ``1 / AP_BINS`` (rounded down) for the pooled average precision.
AP_BINS = 1000
#: A true component is found when its IoU with the predicted components that touch it reaches this.
REGION_IOU = 0.5
#: Eight-connectivity, for true and predicted components alike.
_EIGHT = np.ones((3, 3), bool)


@dataclass
class ImageScores:
    """One image's scores (see :func:`localization_scores`)."""

    iou: float
    f1: float
    fp_area: float
    components: list[tuple[np.ndarray, float]]
    histogram: np.ndarray = field(repr=False)
    empty: bool = False


def _check(truth: np.ndarray, prob: np.ndarray) -> None:
    if truth.dtype != bool or truth.ndim != 2:
        raise ValueError(f"truth: expected an HxW bool mask, got shape {truth.shape} {truth.dtype}")
    if prob.shape != truth.shape:
        raise ValueError(f"prob: expected shape {truth.shape} (the mask's), got {prob.shape}")
    if not np.isfinite(prob).all() or prob.min(initial=0.0) < 0 or prob.max(initial=0.0) > 1:
        raise ValueError("prob: expected probabilities in [0, 1] (no NaN or Inf)")


def component_matches(truth: np.ndarray, predicted: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Every 8-connected component of ``truth``, with its IoU against the prediction.

    A component is compared with the union of the 8-connected components of ``predicted`` that
    overlap it (by at least one pixel), whole: a prediction that spills far beyond a region or
    joins it to another lowers the region's IoU. No overlap gives 0.

    Returns:
        ``[(pixels, iou), ...]``: each component's bool mask and IoU, in label order.
    """
    labels, n = ndimage.label(truth, structure=_EIGHT)
    pred_labels, _ = ndimage.label(predicted, structure=_EIGHT)
    out = []
    for k in range(1, n + 1):
        pixels = labels == k
        touching = np.unique(pred_labels[pixels])
        touching = touching[touching > 0]
        union = np.isin(pred_labels, touching) if touching.size else np.zeros_like(pixels)
        inter = np.count_nonzero(pixels & union)
        out.append((pixels, inter / np.count_nonzero(pixels | union)))
    return out


def localization_scores(truth: np.ndarray, prob: np.ndarray, *, threshold: float = 0.5) -> ImageScores:
    """Score one probability map against its true mask.

    Args:
        truth: ``HxW`` bool, True on mosaicked pixels.
        prob: ``HxW`` probabilities in [0, 1]; a pixel is predicted positive at ``prob >= threshold``.
        threshold: The decision threshold (0.5 in every table).
    """
    _check(truth, prob)
    predicted = prob >= threshold
    tp = int(np.count_nonzero(truth & predicted))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = int(np.count_nonzero(truth)) - tp
    empty = tp + fp + fn == 0  # no region and nothing predicted: a perfect answer
    iou = 1.0 if empty else tp / (tp + fp + fn)
    f1 = 1.0 if empty else 2 * tp / (2 * tp + fp + fn)
    bins = np.minimum((prob.astype(np.float64) * AP_BINS).astype(np.int64), AP_BINS)
    hist = np.zeros((2, AP_BINS + 1), np.int64)
    hist[1] = np.bincount(bins[truth], minlength=AP_BINS + 1)
    hist[0] = np.bincount(bins[~truth], minlength=AP_BINS + 1)
    return ImageScores(
        iou=iou,
        f1=f1,
        fp_area=float(np.count_nonzero(predicted)) / predicted.size,
        components=component_matches(truth, predicted),
        histogram=hist,
        empty=not truth.any(),
    )


def pixel_average_precision(histogram: np.ndarray) -> float | None:
    """Average precision from pooled ``(2, bins)`` counts of negative (row 0) and positive (row 1) pixels.

    Thresholds run down the bins; AP is the sum over thresholds of the recall gained times the
    precision there (the step-wise sum, no interpolation, ties in one bin taken together). None
    when there is no positive pixel.
    """
    neg, pos = histogram[0][::-1].cumsum(), histogram[1][::-1].cumsum()
    if pos[-1] == 0:
        return None
    recall_gain = np.diff(np.concatenate([[0], pos])) / pos[-1]
    keep = recall_gain > 0
    precision = pos[keep] / (pos[keep] + neg[keep])
    return float(np.sum(recall_gain[keep] * precision))


def summarize(images: Iterable[ImageScores]) -> dict[str, Any]:
    """Pool image scores: mean IoU and F1, pooled AP, region recall, mean FP area on images without regions.

    Counts come along: ``n`` images, ``regions`` (true components), ``found``, ``negatives``
    (images without a region). A metric with nothing to average over is None.
    """
    images = list(images)
    hist = sum((s.histogram for s in images), np.zeros((2, AP_BINS + 1), np.int64))
    found = [iou >= REGION_IOU for s in images for _, iou in s.components]
    negatives = [s.fp_area for s in images if s.empty]
    return {
        "iou": float(np.mean([s.iou for s in images])) if images else None,
        "f1": float(np.mean([s.f1 for s in images])) if images else None,
        "ap": pixel_average_precision(hist),
        "region_recall": float(np.mean(found)) if found else None,
        "fp_area": float(np.mean(negatives)) if negatives else None,
        "n": len(images),
        "regions": len(found),
        "found": int(np.sum(found)),
        "negatives": len(negatives),
    }


def region_breakdown(regions: Iterable[tuple[Mapping[str, str], float]], columns: Iterable[str]) -> dict[str, dict]:
    """Region recall and mean component IoU for each value of each region column.

    Args:
        regions: ``(values, iou)`` per true component: its region's breakdown values and its IoU.
        columns: The region columns to break down by (``size``, ``shape``, ...).
    """
    regions = list(regions)
    return {
        column: {
            value: {
                "region_recall": float(np.mean([i >= REGION_IOU for i in ious])),
                "region_iou": float(np.mean(ious)),
                "n": len(ious),
            }
            for value, ious in _by_value(regions, column).items()
        }
        for column in columns
    }


def _by_value(items: list[tuple[Mapping[str, str], float]], column: str) -> dict[str, list[float]]:
    """The numbers of ``items`` grouped by their value of ``column`` (``n/a`` where absent), values sorted."""
    groups: dict[str, list[float]] = {}
    for values, x in items:
        groups.setdefault(str(values.get(column, "n/a")), []).append(x)
    return dict(sorted(groups.items()))


def block_error(pixels: np.ndarray, block_map: np.ndarray, true_block: float) -> float:
    """How far a reported block side is from the true one on one region, in pixels.

    Args:
        pixels: ``HxW`` bool, the region's pixels (a true component).
        block_map: ``HxW`` block sides the model reports, in pixels of the scored image.
        true_block: The side the region's mosaic has in the scored image (made side times any downscale).

    Returns:
        ``|median(block_map[pixels]) - true_block|``.
    """
    return float(abs(np.median(block_map[pixels]) - true_block))


def block_breakdown(errors: Iterable[tuple[Mapping[str, str], float]], columns: Iterable[str]) -> dict[str, dict]:
    """Mean block-size error and the number of regions it is over, for each value of each region column."""
    errors = list(errors)
    return {
        column: {
            value: {"block_error": float(np.mean(e)), "n": len(e)} for value, e in _by_value(errors, column).items()
        }
        for column in columns
    }
