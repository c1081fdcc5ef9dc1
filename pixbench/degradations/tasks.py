"""How each task turns one clean source image and a seeded RNG into one sample.

Pure functions of ``(image, recipe, rng)``: no file I/O, no global state. The
order of RNG draws here is part of a recipe version's byte-for-byte contract, so
changing it needs a new recipe version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pixbench.degradations.blocks import block_positions, extract_triplets
from pixbench.degradations.holes import holes_mask
from pixbench.degradations.jpeg import jpeg_roundtrip
from pixbench.degradations.pixelate import downscale, pixelate, upscale

if TYPE_CHECKING:
    from pixbench.recipes import Recipe


@dataclass
class TaskSample:
    """The arrays and parameters of one sample, before they are written to disk."""

    input: np.ndarray
    params: dict[str, Any]
    target: np.ndarray | None = None
    lowres: np.ndarray | None = None
    mask: np.ndarray | None = None
    label: int | None = None
    triplets: tuple[np.ndarray, np.ndarray, list[tuple[int, int]]] | None = field(default=None, repr=False)


def min_side(recipe: Recipe) -> int:
    """The smallest source side the recipe can crop from."""
    size = recipe.crop.size
    if recipe.task == "detect":
        return max(_region(size, f) for f in recipe.degradations[0].factors)
    return size


def _region(size: int, factor: int) -> int:
    """Side of the square a positive is pixelated in: whole blocks, one spare block for the grid phase."""
    return (math.ceil(size / factor) + 1) * factor


def _crop_origin(rng: np.random.Generator, h: int, w: int, size: int, align: int) -> tuple[int, int]:
    x = align * int(rng.integers(0, (w - size) // align + 1))
    y = align * int(rng.integers(0, (h - size) // align + 1))
    return x, y


def _cut(image: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    return np.ascontiguousarray(image[y:y + size, x:x + size])


def _box(x: int, y: int, size: int) -> dict[str, int]:
    return {"crop_x": x, "crop_y": y, "crop_w": size, "crop_h": size}


def _texture(crop: np.ndarray) -> float:
    grey = crop.astype(np.float32).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def _detect(image: np.ndarray, recipe: Recipe, rng: np.random.Generator, index: int) -> TaskSample:
    h, w = image.shape[:2]
    size, align = recipe.crop.size, recipe.crop.align
    if index % 2 == 0:  # even crop indices are positives: classes are balanced per image
        params = recipe.ops()[0].sample(rng)
        f = params["factor"]
        region = _region(size, f)
        rx, ry = _crop_origin(rng, h, w, region, 1)
        # the crop starts at a random phase of the block grid inside the region, so
        # block edges are not always at the crop's origin
        ox, oy = (int(rng.integers(0, region - size + 1)) for _ in range(2))
        degraded = pixelate(_cut(image, rx, ry, region), **params)
        crop = np.ascontiguousarray(degraded[oy:oy + size, ox:ox + size])
        params.update(label=1, negative_kind="", grid_x=ox % f, grid_y=oy % f, **_box(rx + ox, ry + oy, size))
        return TaskSample(input=crop, params=params, label=1)
    negatives = recipe.negatives or []
    weights = np.array([n.weight for n in negatives], dtype=np.float64)
    neg = negatives[int(np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(), side="right"))
                    if len(negatives) > 1 else 0]
    params: dict[str, Any] = {"label": 0, "negative_kind": neg.kind}
    if neg.kind in ("sharp", "smooth"):
        origins = [_crop_origin(rng, h, w, size, align) for _ in range(neg.candidates)]
        scores = [_texture(_cut(image, x, y, size)) for x, y in origins]
        x, y = origins[int(np.argmax(scores) if neg.kind == "sharp" else np.argmin(scores))]
    else:
        x, y = _crop_origin(rng, h, w, size, align)
    crop = _cut(image, x, y, size)
    if neg.kind == "jpeg":
        params["quality"] = int(neg.qualities[rng.integers(len(neg.qualities))])
        crop = jpeg_roundtrip(crop, quality=params["quality"], subsampling="4:2:0")
    params.update(_box(x, y, size))
    return TaskSample(input=crop, params=params, label=0)


def _depixelate(image: np.ndarray, recipe: Recipe, rng: np.random.Generator, index: int) -> TaskSample:
    size = recipe.crop.size
    x, y = _crop_origin(rng, *image.shape[:2], size, recipe.crop.align)
    params = recipe.ops()[0].sample(rng)
    clean = _cut(image, x, y, size)
    lowres = downscale(clean, factor=params["factor"], kernel=params["down_kernel"])
    degraded = upscale(lowres, size=(size, size), kernel=params["up_kernel"])
    params.update(_box(x, y, size))
    return TaskSample(input=degraded, target=clean, lowres=lowres, params=params)


def _jpeg(image: np.ndarray, recipe: Recipe, rng: np.random.Generator, index: int) -> TaskSample:
    size = recipe.crop.size
    x, y = _crop_origin(rng, *image.shape[:2], size, recipe.crop.align)
    op = recipe.ops()[0]
    params = op.sample(rng)
    clean = _cut(image, x, y, size)
    params.update(_box(x, y, size))
    return TaskSample(input=op.apply(clean, params), target=clean, params=params)


def _blockcnn(image: np.ndarray, recipe: Recipe, rng: np.random.Generator, index: int) -> TaskSample:
    sample = _jpeg(image, recipe, rng, index)
    positions = block_positions(*sample.target.shape[:2])
    per_crop = recipe.triplets.per_crop if recipe.triplets else "all"
    if per_crop != "all" and per_crop < len(positions):
        picked = np.sort(rng.choice(len(positions), size=per_crop, replace=False))
        positions = [positions[i] for i in picked]
    xs, ys = extract_triplets(sample.input, sample.target, positions)
    sample.triplets = (xs, ys, positions)
    return sample


def _inpaint(image: np.ndarray, recipe: Recipe, rng: np.random.Generator, index: int) -> TaskSample:
    size = recipe.crop.size
    x, y = _crop_origin(rng, *image.shape[:2], size, recipe.crop.align)
    op = recipe.ops()[0]
    clean = _cut(image, x, y, size)
    params = op.sample(rng, height=size, width=size)
    mask = holes_mask(size, size, [tuple(b) for b in params["holes"]])
    params.update(_box(x, y, size))
    return TaskSample(input=op.apply(clean, params), target=clean, mask=mask, params=params)


_MAKERS = {"detect": _detect, "depixelate": _depixelate, "jpeg": _jpeg, "blockcnn": _blockcnn, "inpaint": _inpaint}


def make_sample(image: np.ndarray, recipe: Recipe, rng: np.random.Generator, index: int) -> TaskSample:
    """Make crop number ``index`` of ``image`` for the recipe's task, drawing from ``rng``."""
    return _MAKERS[recipe.task](image, recipe, rng, index)
