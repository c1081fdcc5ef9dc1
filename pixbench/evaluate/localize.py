"""Scoring localizers: a per-pixel map per image -> IoU, F1, pixel AP, region recall and FP area.

A model of a task with :attr:`~pixbench.tasks.Task.maps` sees each whole image and returns one
map ``(1, 1, H', W')`` (or ``(1, H', W', 1)`` in NHWC). A map whose sides divide the image's
exactly (a per-cell map) is upsampled by repetition; logits go through the sigmoid. Every true
component is attributed to the recorded region whose box (scaled with the image) holds most of
its pixels, so recall breaks down by the region's size, shape, edge, block and cell.

A model may also have an output named ``block`` (:data:`BLOCK_OUTPUT`), a map of the same shape
rules holding the block side, in pixels of the scored image, of the mosaic it sees at each pixel.
On every region it finds (IoU >= 0.5) the median of that map is compared with the region's true
side (its block size times any downscale): the *block-size error*, pooled as ``block_error``
and broken down by the same region columns.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixbench.datasets import Sample
from pixbench.errors import ModelError, PixbenchError
from pixbench.runtime import Runner
from pixbench.tasks import Task

#: The name of the optional output holding a block-size map.
BLOCK_OUTPUT = "block"


@dataclass
class LocalizationScores:
    """Per-sample rows, failures, the pooled metrics and their breakdowns."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    metrics: dict[str, Any] = field(default_factory=dict)
    breakdown: dict[str, Any] = field(default_factory=dict)
    output: str = "probability"


def full_map(raw: np.ndarray, layout: str, height: int, width: int) -> np.ndarray:
    """The ``HxW`` map of one raw output, upsampled by repetition when its sides divide the image's.

    Raises:
        ModelError: The output is not one single-channel map, or its sides do not divide ``H x W``.
    """
    if raw.ndim != 4 or raw.shape[0] != 1 or raw.shape[1 if layout == "nchw" else 3] != 1:
        raise ModelError(f"expected one single-channel map (1, 1, H', W'), got output shape {raw.shape}")
    m = raw[0, 0] if layout == "nchw" else raw[0, ..., 0]
    mh, mw = m.shape
    if mh < 1 or mw < 1 or height % mh or width % mw:
        raise ModelError(f"map {mh}x{mw} does not divide the image {height}x{width} (a per-cell map must)")
    return np.repeat(np.repeat(m, height // mh, axis=0), width // mw, axis=1)


def to_probability(m: np.ndarray, output: str) -> np.ndarray:
    """A map as probabilities: the sigmoid of logits; probabilities as they are (checked to lie in [0, 1])."""
    m = m.astype(np.float64)
    if not np.isfinite(m).all():
        raise PixbenchError("output holds NaN or Inf")
    if output == "logit":
        return 1.0 / (1.0 + np.exp(-np.clip(m, -60, 60)))
    if m.min() < 0 or m.max() > 1:
        raise PixbenchError(
            f"map values {m.min():.3g}..{m.max():.3g} are not probabilities; declare pixbench.output=logit"
        )
    return m


def component_regions(
    components: list[np.ndarray], regions: list[tuple[tuple[int, int, int, int], dict[str, str]]]
) -> list[int | None]:
    """The index of the recorded region (of :meth:`Task.sample_regions`) each true component lies in
    (most of its pixels), or None."""
    out = []
    for pixels in components:
        counts = [int(pixels[y0:y1, x0:x1].sum()) for (x0, y0, x1, y1), _ in regions]
        out.append(int(np.argmax(counts)) if counts and max(counts) else None)
    return out


def _block_index(runner: Runner) -> int | None:
    """Which output of the model is its :data:`BLOCK_OUTPUT` map (never the first, the probability map), or None."""
    names = [o.name for o in runner.model.outputs]
    return names.index(BLOCK_OUTPUT) if BLOCK_OUTPUT in names[1:] else None


def _block_map(runner: Runner, raw: np.ndarray, height: int, width: int) -> np.ndarray:
    """The ``HxW`` block-size map from the model's raw block output."""
    m = full_map(np.asarray(raw), runner.spec.layout, height, width)
    if not np.isfinite(m).all():
        raise PixbenchError("block output holds NaN or Inf")
    return m.astype(np.float64)


def region_block_errors(
    image: Any,
    block: np.ndarray,
    where: list[int | None],
    regions: list[tuple[tuple[int, int, int, int], dict[str, str]]],
    sides: list[float],
) -> list[tuple[dict[str, str], float]]:
    """``(breakdown values, block-size error)`` of every region found (IoU >= 0.5) in one image.

    ``where`` is :func:`component_regions`'s attribution of ``image``'s components to ``regions``
    (:meth:`Task.sample_regions`), ``sides`` their block sides (:meth:`Task.region_blocks`).
    """
    from pixbench.metrics.localization import REGION_IOU, block_error

    return [
        (regions[k][1], block_error(pixels, block, sides[k]))
        for (pixels, iou), k in zip(image.components, where)
        if k is not None and iou >= REGION_IOU
    ]


def _params(sample: Sample) -> dict[str, Any]:
    raw = sample.meta.get("params", "")
    return json.loads(raw) if isinstance(raw, str) and raw else {}


def score_localization(
    runner: Runner,
    samples: Iterable[Sample],
    task: Task,
    *,
    columns: list[str],
    on_sample: Callable[[], None] | None = None,
) -> LocalizationScores:
    """Run a localizer over ``samples``; rows get ``model_iou``, ``model_f1``, ``model_fp_area``, ``model_region_recall``.

    With no ``pixbench.output`` prop (``auto``), the maps are read as probabilities when every
    value of the first scored map lies in [0, 1], else as logits; the choice is kept in ``output``.
    """
    from pixbench.metrics.localization import REGION_IOU, localization_scores, region_breakdown, summarize

    out = LocalizationScores(output=runner.spec.output or "auto")
    scored: list[tuple[dict[str, Any], Any]] = []
    regions: list[tuple[dict, float]] = []
    block_at = _block_index(runner)
    blocks: list[tuple[dict, float]] | None = None if block_at is None else []
    for sample in samples:
        row: dict[str, Any] = {"sample_id": sample.sample_id, **{c: sample.meta.get(c, "") for c in columns}}
        row["failure"] = ""
        try:
            h, w = sample.input.shape[:2]
            outputs = runner.run_outputs(sample.input[None])
            m = full_map(np.asarray(outputs[0]), runner.spec.layout, h, w)
            if out.output == "auto":
                out.output = "probability" if np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1 else "logit"
            image = localization_scores(sample.mask, to_probability(m, out.output))
            block = None if block_at is None else _block_map(runner, outputs[block_at], h, w)
        except PixbenchError as exc:
            out.failures[str(exc)] += 1
            row["failure"], image = str(exc), None
        if image is not None:
            params = _params(sample)
            found = [iou for _, iou in image.components]
            row.update(model_iou=image.iou, model_f1=image.f1, model_fp_area=image.fp_area if image.empty else None)
            row["model_region_recall"] = float(np.mean([i >= REGION_IOU for i in found])) if found else None
            recorded = task.sample_regions(params)
            where = component_regions([p for p, _ in image.components], recorded)
            regions += [({} if k is None else recorded[k][1], iou) for k, iou in zip(where, found)]
            if blocks is not None and block is not None:
                blocks += region_block_errors(image, block, where, recorded, task.region_blocks(params))
            scored.append((row, image))
        out.rows.append(row)
        if on_sample:
            on_sample()
    out.output = "probability" if out.output == "auto" else out.output
    out.metrics = summarize(s for _, s in scored) if scored else {}
    out.breakdown = _sample_breakdown(scored, columns) | region_breakdown(regions, task.region_breakdown)
    if blocks is not None:  # a model with a block output: the error over every region found
        _add_block_errors(out, blocks, task)
    return out


def _add_block_errors(out: LocalizationScores, blocks: list[tuple[dict, float]], task: Task) -> None:
    """Pool the block-size errors into ``out``'s metrics and its per-region breakdowns."""
    from pixbench.metrics.localization import block_breakdown

    out.metrics["block_error"] = float(np.mean([e for _, e in blocks])) if blocks else None
    for column, values in block_breakdown(blocks, task.region_breakdown).items():
        for value, entry in values.items():
            out.breakdown[column][value]["block_error"] = entry["block_error"]


def _sample_breakdown(scored: list[tuple[dict[str, Any], Any]], columns: list[str]) -> dict[str, dict]:
    """Every pooled metric for each value of each sample column (``post``, ``negative_kind``, ...)."""
    from pixbench.metrics.localization import summarize

    out: dict[str, dict] = {}
    for column in columns:
        groups: dict[str, list] = {}
        for row, image in scored:
            value = str(row.get(column, ""))
            if value not in ("", "nan"):
                groups.setdefault(value, []).append(image)
        if groups:
            out[column] = {value: summarize(images) for value, images in sorted(groups.items())}
    return out
