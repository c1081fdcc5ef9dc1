"""One source image -> its samples: the seeds, the split, each task's sample maker, and the files.

:func:`make_sample` and its per-task makers are pure functions of ``(image, recipe,
rng)``: no file I/O, no global state. The order of RNG draws here is part of a recipe
version's byte-for-byte contract, so changing it needs a new recipe version.
:func:`process_item` is the unit of work an engine runs: it derives every sample's RNG
from the recipe seed, the image's pixel hash and the crop index (never from processing
order), writes the sample files and, last, the image's done record.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.builder.output import record_name, write_record
from pixbench.datasets import BUILD_STATE_DIR
from pixbench.degradations.blocks import block_positions, extract_triplets
from pixbench.degradations.holes import holes_mask
from pixbench.degradations.jpeg import jpeg_roundtrip
from pixbench.degradations.pixelate import downscale, pixelate, upscale
from pixbench.errors import ImageDecodeError, SourceError
from pixbench.images import pixel_sha256, write_png
from pixbench.recipes import Recipe, Splits
from pixbench.sources import SourceItem, load_pixels


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


#: Offsets a ``jpeg_phase: random`` negative draws its JPEG grid phase from (one 8x8 block).
JPEG_PHASES = 8


def _jpeg_pad(neg: Any) -> int:
    """Extra pixels a negative is cut with, so its JPEG grid can sit at any phase (0: at the crop's corner)."""
    return JPEG_PHASES if neg.jpeg_phase == "random" else 0


def _negative_side(size: int, neg: Any) -> int:
    """Smallest side a negative can be cut from (a ``prescale`` factor shrinks to fit the photo)."""
    return size + _jpeg_pad(neg)


def min_side(recipe: Recipe) -> int:
    """The smallest source side the recipe can crop from."""
    size = recipe.crop.size
    if recipe.task == "detect":
        return max(
            [_region(size, f) for f in recipe.degradations[0].factors]
            + [_negative_side(size, n) for n in recipe.negatives or []]
        )
    return size


def _region(size: int, factor: int) -> int:
    """Side of the square a positive is pixelated in: whole blocks, one spare block for the grid phase."""
    return (math.ceil(size / factor) + 1) * factor


def _crop_origin(rng: np.random.Generator, h: int, w: int, size: int, align: int) -> tuple[int, int]:
    x = align * int(rng.integers(0, (w - size) // align + 1))
    y = align * int(rng.integers(0, (h - size) // align + 1))
    return x, y


def _cut(image: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    return np.ascontiguousarray(image[y : y + size, x : x + size])


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
        crop = np.ascontiguousarray(degraded[oy : oy + size, ox : ox + size])
        params.update(label=1, negative_kind="", grid_x=ox % f, grid_y=oy % f, **_box(rx + ox, ry + oy, size))
        return TaskSample(input=crop, params=params, label=1)
    negatives = recipe.negatives or []
    weights = np.array([n.weight for n in negatives], dtype=np.float64)
    neg = negatives[
        int(np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(), side="right"))
        if len(negatives) > 1
        else 0
    ]
    params: dict[str, Any] = {"label": 0, "negative_kind": neg.label}
    pad = _jpeg_pad(neg)
    scale, kernel = 1.0, None
    if neg.prescale is not None:  # a shrunk photo: the crop comes from a region `scale` times larger
        scale = float(neg.prescale.factors[rng.integers(len(neg.prescale.factors))])
        kernel = neg.prescale.kernels[rng.integers(len(neg.prescale.kernels))]
        scale = min(scale, min(h, w) / (size + pad))  # at most what the photo allows
        params.update(pre_scale=round(scale, 4), pre_kernel=kernel)
    side = min(math.ceil((size + pad) * scale), h, w)
    if neg.kind in ("sharp", "smooth"):
        origins = [_crop_origin(rng, h, w, side, align) for _ in range(neg.candidates)]
        scores = [_texture(_cut(image, x, y, side)) for x, y in origins]
        x, y = origins[int(np.argmax(scores) if neg.kind == "sharp" else np.argmin(scores))]
    else:
        x, y = _crop_origin(rng, h, w, side, align)
    crop = _cut(image, x, y, side)
    if kernel is not None:
        crop = upscale(crop, size=(size + pad, size + pad), kernel=kernel)  # a resize to that size, here smaller
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
    params.update(_box(x, y, side))
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


def assign_split(source_sha256: str, splits: Splits) -> str:
    """The split of a source image, from its pixel hash alone.

    Only the image's own hash decides, so adding images to a source never moves
    others, and the same photo lands in the same split in every recipe with the
    same fractions (no leakage between datasets built from one source).
    """
    u = int(hashlib.sha256(f"pixbench-split:{source_sha256}".encode()).hexdigest()[:16], 16) / 2**64
    if u < splits.train:
        return "train"
    return "val" if u < splits.train + splits.val else "test"


def sample_seed(recipe_seed: int, source_sha256: str, index: int) -> int:
    """The seed of crop ``index`` of one source image (63 bits, so it fits an int64 column)."""
    digest = hashlib.sha256(f"pixbench-sample:{recipe_seed}:{source_sha256}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def process_item(item: SourceItem, recipe: Recipe, out: Path, *, split: str | None = None) -> dict[str, Any]:
    """Make and write every sample of one source image, then its done record.

    Unusable inputs (undecodable, too small, failed download or hash) become a
    ``skipped`` record with a one-line reason; they never raise.

    Args:
        item: The source image.
        recipe: A validated recipe.
        out: The dataset folder.
        split: Put the image into this split instead of the one its hash picks.

    Returns:
        A small summary of the record (see :func:`pixbench.builder.output.write_record`).
    """
    state = out / BUILD_STATE_DIR
    record: dict[str, Any] = {"source_id": item.source_id}
    try:
        pixels = load_pixels(item)
    except (ImageDecodeError, SourceError) as exc:
        reason = str(exc).replace(item.path, item.source_id) if item.path else str(exc)
        record.update(status="skipped", reason=reason)
        return write_record(state, record_name(item.source_id), record)
    h, w = pixels.shape[:2]
    need = min_side(recipe)
    if min(h, w) < need:
        record.update(
            status="skipped", reason=f"smaller than the crop: {w}x{h}, the recipe needs at least {need}x{need}"
        )
        return write_record(state, record_name(item.source_id), record)
    sha = pixel_sha256(pixels)
    split = split or assign_split(sha, recipe.splits)
    rows, trip_x, trip_y, trip_rows = [], [], [], []
    for index in range(recipe.crop.per_image):
        seed = sample_seed(recipe.seed, sha, index)
        sample = make_sample(pixels, recipe, np.random.default_rng(seed), index)
        sample_id = f"{sha[:16]}-{index:04d}"
        row: dict[str, Any] = {
            "sample_id": sample_id,
            "source_id": item.source_id,
            "source_sha256": sha,
            "seed": seed,
            "params": sample.params,
        }
        for kind in ("input", "target", "lowres", "mask"):
            array = getattr(sample, kind)
            if array is not None:
                rel = f"{kind}/{sample_id}.png"
                write_png(out / split / rel, array)
                row[f"{kind}_file_name"] = rel
        if sample.triplets is not None:
            xs, ys, positions = sample.triplets
            trip_x.append(xs)
            trip_y.append(ys)
            trip_rows += [
                {
                    "sample_id": sample_id,
                    "source_id": item.source_id,
                    "block_x": bx,
                    "block_y": by,
                    "quality": sample.params["quality"],
                }
                for bx, by in positions
            ]
        rows.append(row)
    record.update(status="ok", source_sha256=sha, split=split, width=w, height=h, rows=rows)
    if trip_rows:
        record["triplets"] = trip_rows
        arrays = (np.concatenate(trip_x), np.concatenate(trip_y))
        return write_record(state, record_name(item.source_id), record, arrays=arrays)
    return write_record(state, record_name(item.source_id), record)
