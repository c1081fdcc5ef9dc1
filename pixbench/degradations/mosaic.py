"""Mosaic regions: shapes, cells on a block grid at any phase, hard or feathered edges.

A mosaic region replaces the pixels inside a shape (rectangle, ellipse or free polygon) by the
cells of a ``block x block`` grid whose lines sit at ``x = phase_x + k * block`` (and likewise in
y) over the whole image. A cell's colour is its box mean in sRGB, its box mean in linear light, or
its centre sample, over the cell's pixels inside the image (pixels outside the shape count too, as
an editor that pixelates a selection computes them). A hard edge pastes the cells where the shape
is; a feathered one blends them in with a ramp ``width`` pixels wide centred on the shape's edge,
so the region's mask (where the cells weigh at least one half) is the shape either way.
``docs/tasks/localize.md`` describes every case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

#: How a cell's colour is taken from its pixels.
CELLS = ("srgb-mean", "linear-mean", "centre")
#: The outlines a region may have.
SHAPES = ("rect", "ellipse", "free")


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decoding of ``[0, 1]`` sRGB values."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0.0), 1 / 2.4) - 0.055)


def _edges(start: int, stop: int, block: int, phase: int) -> np.ndarray:
    """Cell boundaries covering ``[start, stop)`` on the grid ``phase + k * block``, clipped to the span."""
    first = phase + math.floor((start - phase) / block) * block
    inner = np.arange(first + block, stop, block)
    return np.concatenate([[start], inner[inner > start], [stop]]).astype(np.int64)


def mosaic_cells(image: np.ndarray, *, block: int, phase: tuple[int, int], cell: str) -> np.ndarray:
    """``image`` (``HxWx3 uint8``) with every pixel replaced by its grid cell's colour.

    Cells that the image's border cuts are taken over their pixels inside the image. The centre
    sample of a cell of pixels ``a..b-1`` is pixel ``a + (b - a - 1) // 2`` on each axis.

    Args:
        image: ``HxWx3 uint8``.
        block: Cell side in pixels (>= 1).
        phase: ``(x, y)``: grid lines at ``x + k * block`` and ``y + k * block``.
        cell: One of :data:`CELLS`.
    """
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")
    if not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block: expected an integer >= 1, got {block!r}")
    h, w = image.shape[:2]
    ys, xs = _edges(0, h, block, phase[1] % block), _edges(0, w, block, phase[0] % block)
    if cell == "centre":
        cy, cx = ys[:-1] + (np.diff(ys) - 1) // 2, xs[:-1] + (np.diff(xs) - 1) // 2
        values = image[cy][:, cx].astype(np.float64)
    else:
        x = image.astype(np.float64) / 255.0
        if cell == "linear-mean":
            x = _srgb_to_linear(x)
        sums = np.add.reduceat(np.add.reduceat(x, ys[:-1], axis=0), xs[:-1], axis=1)
        values = sums / (np.diff(ys)[:, None, None] * np.diff(xs)[None, :, None])
        if cell == "linear-mean":
            values = _linear_to_srgb(values)
        values = np.clip(np.rint(values * 255.0), 0, 255)
    out = np.repeat(np.repeat(values, np.diff(ys), axis=0), np.diff(xs), axis=1)
    return np.ascontiguousarray(out.astype(np.uint8))


def shape_mask(width: int, height: int, shape: str, vertices: list[list[float]] | None = None) -> np.ndarray:
    """A ``height x width`` bool mask of a shape filling its box.

    ``rect`` is the whole box; ``ellipse`` the pixels whose centres lie inside the inscribed
    ellipse; ``free`` the polygon ``vertices`` (``[u, v]`` in box fractions, 0..1) as Pillow
    fills it.
    """
    if shape == "rect":
        return np.ones((height, width), bool)
    if shape == "ellipse":
        v = (np.arange(height) + 0.5 - height / 2) / (height / 2)
        u = (np.arange(width) + 0.5 - width / 2) / (width / 2)
        return v[:, None] ** 2 + u[None, :] ** 2 <= 1.0
    if shape == "free":
        canvas = Image.new("L", (width, height), 0)
        points = [(u * width, v * height) for u, v in vertices or []]
        ImageDraw.Draw(canvas).polygon(points, fill=255)
        return np.asarray(canvas) > 0
    raise ValueError(f"shape: expected one of {', '.join(SHAPES)}, got {shape!r}")


def feather_alpha(inside: np.ndarray, width: int) -> np.ndarray:
    """Blend weights of a shape: 1/0 for a hard edge (``width`` 0), else a linear ramp ``width`` wide.

    The ramp is ``clip(0.5 + d / width, 0, 1)`` where ``d`` is the signed distance of a pixel to
    the shape's edge (positive inside, from pixel centre to the nearest pixel on the other side,
    minus one half), so every pixel inside weighs more than one half and every pixel outside less.
    """
    if width <= 0:
        return inside.astype(np.float64)
    d_in = ndimage.distance_transform_edt(inside)
    d_out = ndimage.distance_transform_edt(~inside)
    d = np.where(inside, d_in - 0.5, 0.5 - d_out)
    return np.clip(0.5 + d / width, 0.0, 1.0)


def paint_region(image: np.ndarray, region: dict[str, Any]) -> np.ndarray:
    """Mosaic one region of ``image`` in place; returns the region's ``HxW`` bool mask.

    ``region`` holds ``box`` (``[x, y, w, h]``), ``shape`` (and ``vertices`` for ``free``),
    ``feather`` (0 for a hard edge), ``block``, ``phase`` (``[x, y]``) and ``cell``.
    """
    h, w = image.shape[:2]
    x, y, bw, bh = region["box"]
    pad = int(region["feather"])  # the ramp reaches half its width outside the shape
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
    inside = np.zeros((y1 - y0, x1 - x0), bool)
    inside[y - y0 : y - y0 + bh, x - x0 : x - x0 + bw] = shape_mask(bw, bh, region["shape"], region.get("vertices"))
    alpha = feather_alpha(inside, pad)[..., None]
    # cells are computed on the whole image's grid; only the cells under the window are needed
    b, (px, py) = int(region["block"]), region["phase"]
    cx0, cy0 = px % b + math.floor((x0 - px % b) / b) * b, py % b + math.floor((y0 - py % b) / b) * b
    cx0, cy0 = max(0, cx0), max(0, cy0)
    cx1, cy1 = min(w, x1 + b), min(h, y1 + b)
    cells = mosaic_cells(image[cy0:cy1, cx0:cx1], block=b, phase=((px - cx0) % b, (py - cy0) % b), cell=region["cell"])
    cells = cells[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0].astype(np.float64)
    window = image[y0:y1, x0:x1]
    window[...] = np.rint(alpha * cells + (1.0 - alpha) * window).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = alpha[..., 0] >= 0.5
    return mask


def _overlaps(a: list[int], b: list[int], gap: int) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw + gap and bx < ax + aw + gap and ay < by + bh + gap and by < ay + ah + gap


@dataclass(frozen=True)
class MosaicOp:
    """Up to ``max_regions`` mosaic regions per image, none in a share ``empty`` of the images.

    See ``docs/tasks/localize.md`` for the order of the draws (part of a recipe version's bytes).
    """

    empty: float
    max_regions: int
    min_side: int
    max_fraction: float
    max_aspect: float
    shapes: tuple[str, ...]
    feathered: float
    feather: tuple[int, int]
    blocks: tuple[int, int]
    cells: tuple[str, ...]
    gap: int = 16
    tries: int = 50

    def sample(self, rng: np.random.Generator, *, height: int, width: int) -> dict[str, Any]:
        """Draw ``{"regions": [...]}``: how many, then each region's box, shape, edge and grid."""
        count = 0 if rng.random() < self.empty else int(rng.integers(1, self.max_regions + 1))
        regions: list[dict[str, Any]] = []
        for _ in range(count):
            region = self._place(rng, height, width, regions)
            if region is not None:
                regions.append(region)
        return {"regions": regions}

    def _place(self, rng: np.random.Generator, h: int, w: int, placed: list[dict[str, Any]]) -> dict[str, Any] | None:
        """One region that keeps ``gap`` pixels from the others, or None after ``tries`` boxes that do not."""
        region = self._draw(rng, h, w)
        for _ in range(self.tries):
            bw, bh = region["box"][2:]
            box = [int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1)), bw, bh]
            if not any(_overlaps(box, p["box"], self.gap) for p in placed):
                region["box"] = box
                return region
        return None

    def _draw(self, rng: np.random.Generator, h: int, w: int) -> dict[str, Any]:
        """A region's size, shape, edge and grid (its place is drawn after)."""
        along, across = (w, h) if rng.random() < 0.5 else (h, w)  # the long side runs along x or y
        top = max(self.min_side, int(self.max_fraction * min(along, across * self.max_aspect)))
        long_side = int(round(math.exp(rng.uniform(math.log(self.min_side), math.log(top)))))
        aspect = rng.uniform(1.0, max(1.0, min(self.max_aspect, long_side / self.min_side)))
        short_side = min(int(self.max_fraction * across), max(self.min_side, int(round(long_side / aspect))))
        bw, bh = (long_side, short_side) if along == w else (short_side, long_side)
        bw, bh = min(bw, w), min(bh, h)
        shape = self.shapes[int(rng.integers(len(self.shapes)))]
        region: dict[str, Any] = {"box": [0, 0, bw, bh], "shape": shape}
        if shape == "free":
            n = int(rng.integers(5, 11))
            angles = np.sort(rng.uniform(0, 2 * math.pi, n))
            radii = rng.uniform(0.45, 1.0, n)
            region["vertices"] = [
                [round(0.5 + 0.5 * r * math.cos(a), 4), round(0.5 + 0.5 * r * math.sin(a), 4)]
                for a, r in zip(angles, radii)
            ]
        soft = rng.random() < self.feathered
        region["feather"] = int(rng.integers(self.feather[0], self.feather[1] + 1)) if soft else 0
        top_block = max(self.blocks[0], min(self.blocks[1], min(bw, bh) // 2))
        block = int(rng.integers(self.blocks[0], top_block + 1))
        region["block"] = block
        region["phase"] = [int(rng.integers(0, block)), int(rng.integers(0, block))]
        region["cell"] = self.cells[int(rng.integers(len(self.cells)))]
        return region

    def apply(self, image: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The image with every region mosaicked (in order), and the union of their masks."""
        out = image.copy()
        mask = np.zeros(image.shape[:2], bool)
        for region in params["regions"]:
            mask |= paint_region(out, region)
        return out, mask
