"""``detect``: is this crop pixelated? A detector outputs one probability per crop.

A sample is one crop and its label: even crop indices of a source image are positives
(pixelated, at a random phase of the block grid), odd ones are negatives of a kind the
recipe's ``negatives`` list draws by weight (``docs/tasks/detect.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pixbench.degradations.jpeg import jpeg_roundtrip
from pixbench.degradations.pixelate import pixelate, upscale
from pixbench.degradations.textures import draw_texture
from pixbench.tasks.base import Column, Task
from pixbench.tasks.sampling import TaskSample, box, crop_origin, cut

#: Offsets a ``jpeg_phase: random`` negative draws its JPEG grid phase from (one 8x8 block).
JPEG_PHASES = 8


def _jpeg_pad(neg: Any) -> int:
    """Extra pixels a negative is cut with, so its JPEG grid can sit at any phase (0: at the crop's corner)."""
    return JPEG_PHASES if neg.jpeg_phase == "random" else 0


def _region(size: int, factor: int) -> int:
    """Side of the square a positive is pixelated in: whole blocks, one spare block for the grid phase."""
    return (math.ceil(size / factor) + 1) * factor


def _texture(crop: np.ndarray) -> float:
    grey = crop.astype(np.float32).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def _positive(image: np.ndarray, recipe: Any, rng: np.random.Generator) -> TaskSample:
    """A pixelated crop, cut at a random phase of the block grid so block edges are not always at its origin."""
    h, w = image.shape[:2]
    size = recipe.crop.size
    params = recipe.ops()[0].sample(rng)
    f = params["factor"]
    region = _region(size, f)
    rx, ry = crop_origin(rng, h, w, region, 1)
    ox, oy = (int(rng.integers(0, region - size + 1)) for _ in range(2))
    degraded = pixelate(cut(image, rx, ry, region), **params)
    crop = np.ascontiguousarray(degraded[oy : oy + size, ox : ox + size])
    params.update(label=1, negative_kind="", grid_x=ox % f, grid_y=oy % f, **box(rx + ox, ry + oy, size))
    return TaskSample(input=crop, params=params, label=1)


def _pick_negative(recipe: Any, rng: np.random.Generator) -> Any:
    """One of the recipe's negatives, drawn by weight (no draw when there is only one)."""
    negatives = recipe.negatives or []
    if len(negatives) <= 1:
        return negatives[0]
    weights = np.array([n.weight for n in negatives], dtype=np.float64)
    return negatives[int(np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(), side="right"))]


def _negative_region(
    image: np.ndarray, neg: Any, size: int, align: int, rng: np.random.Generator, params: dict[str, Any]
) -> tuple[int, int, int, str | None]:
    """Where a negative is cut from: ``x, y, side`` (larger when prescaled) and the prescale kernel, if any."""
    h, w = image.shape[:2]
    pad = _jpeg_pad(neg)
    scale, kernel = 1.0, None
    if neg.prescale is not None:  # a shrunk photo: the crop comes from a region `scale` times larger
        scale = float(neg.prescale.factors[rng.integers(len(neg.prescale.factors))])
        kernel = neg.prescale.kernels[rng.integers(len(neg.prescale.kernels))]
        scale = min(scale, min(h, w) / (size + pad))  # at most what the photo allows
        params.update(pre_scale=round(scale, 4), pre_kernel=kernel)
    side = min(math.ceil((size + pad) * scale), h, w)
    if neg.kind in ("sharp", "smooth"):
        origins = [crop_origin(rng, h, w, side, align) for _ in range(neg.candidates)]
        scores = [_texture(cut(image, x, y, side)) for x, y in origins]
        x, y = origins[int(np.argmax(scores) if neg.kind == "sharp" else np.argmin(scores))]
    else:
        x, y = crop_origin(rng, h, w, side, align)
    return x, y, side, kernel


def _texture_over(crop: np.ndarray, kinds: list[str], rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """``crop`` with one pattern of ``kinds`` drawn over a box of half to all of each side."""
    h, w = crop.shape[:2]
    kind = kinds[int(rng.integers(len(kinds)))]
    bw, bh = (int(rng.integers(s // 2, s + 1)) for s in (w, h))
    box = [int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1)), bw, bh]
    texture = {"kind": kind, "box": box, "seed": int(rng.integers(0, 2**31))}
    return draw_texture(crop, texture), {"texture": kind, "texture_box": box, "texture_seed": texture["seed"]}


def _negative(image: np.ndarray, recipe: Any, rng: np.random.Generator) -> TaskSample:
    """A clean crop of one of the recipe's negative kinds, with its prescale and JPEG round trips."""
    size = recipe.crop.size
    neg = _pick_negative(recipe, rng)
    params: dict[str, Any] = {"label": 0, "negative_kind": neg.label}
    pad = _jpeg_pad(neg)
    x, y, side, kernel = _negative_region(image, neg, size, recipe.crop.align, rng, params)
    crop = cut(image, x, y, side)
    if kernel is not None:
        crop = upscale(crop, size=(size + pad, size + pad), kernel=kernel)  # a resize to the crop's size
    if neg.textures is not None:
        crop, drawn = _texture_over(crop, neg.textures, rng)
        params.update(drawn)
    if neg.qualities is not None:
        params["quality"] = int(neg.qualities[rng.integers(len(neg.qualities))])
        crop = jpeg_roundtrip(crop, quality=params["quality"], subsampling="4:2:0")
        if neg.requalities is not None:
            params["requality"] = int(neg.requalities[rng.integers(len(neg.requalities))])
            crop = jpeg_roundtrip(crop, quality=params["requality"], subsampling="4:2:0")
    if pad:  # the JPEG grid starts `ox, oy` pixels before the crop's corner
        ox, oy = (int(rng.integers(0, pad)) for _ in range(2))
        crop = np.ascontiguousarray(crop[oy : oy + size, ox : ox + size])
        params.update(jpeg_x=ox, jpeg_y=oy)
    params.update(box(x, y, side))
    return TaskSample(input=crop, params=params, label=0)


class DetectTask(Task):
    """Detection: balanced positives and negatives per source image, and the recipe rules they need."""

    def check_recipe(self, recipe: Any) -> None:
        labels = [n.label for n in recipe.negatives or []]
        if len(set(labels)) != len(labels):
            raise ValueError(f"negatives need distinct names (negative_kind values), got {labels}: add name: to each")
        if recipe.crop.per_image % 2:
            raise ValueError(
                f"crop.per_image must be even for 'detect' (balanced classes), got {recipe.crop.per_image}"
            )

    def min_side(self, recipe: Any) -> int:
        """The largest region a positive (one spare block) or a negative (its JPEG phase) is cut from."""
        size = recipe.crop.size
        return max(
            [_region(size, f) for f in recipe.degradations[0].factors]
            + [size + _jpeg_pad(n) for n in recipe.negatives or []]
        )

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        # even crop indices are positives: classes are balanced per image
        return _positive(image, recipe, rng) if index % 2 == 0 else _negative(image, recipe, rng)


TASK = DetectTask(
    name="detect",
    restores=False,
    primary="accuracy",
    ops=("pixelate",),
    files=("input",),
    metadata=("label", "factor", "down_kernel", "up_kernel", "negative_kind", "quality"),
    inputs="crop, pixelated where label=1",
    breakdown=("factor", "down_kernel", "up_kernel", "quality", "negative_kind"),
    columns=(
        Column("accuracy", "accuracy", "accuracy", "pct"),
        Column("precision", "precision", "precision", "pct"),
        Column("recall", "recall", "recall", "pct"),
        Column("f1", "F1", "f1", "pct"),
        Column("fp_rate", "FP rate", "fpr", "pct"),
        Column("roc_auc", "ROC-AUC", "roc_auc", "f4"),
    ),
    sections=("negatives",),
    level_tables=("factor", "negative_kind"),
)
