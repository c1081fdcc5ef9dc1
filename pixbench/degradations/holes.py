"""Rectangular holes for inpainting: placement, mask, and fill."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h


def _overlap(a: Box, b: Box) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def make_holes(
    rng: np.random.Generator, *, height: int, width: int, count: int, hole_size: int, max_tries: int = 1000
) -> list[Box]:
    """Place ``count`` non-overlapping ``hole_size`` squares fully inside the frame.

    Positions are drawn uniformly; a draw that overlaps an earlier hole is redrawn.
    Touching edges are allowed, shared pixels are not.

    Returns:
        ``[[x, y, w, h], ...]`` as tuples, in placement order.

    Raises:
        ValueError: The holes do not fit (after ``max_tries`` draws).
    """
    if hole_size < 1 or hole_size > min(height, width):
        raise ValueError(f"hole_size: {hole_size} does not fit in a {width}x{height} image")
    holes: list[Box] = []
    for _ in range(max_tries):
        if len(holes) == count:
            break
        x = int(rng.integers(0, width - hole_size + 1))
        y = int(rng.integers(0, height - hole_size + 1))
        box = (x, y, hole_size, hole_size)
        if not any(_overlap(box, h) for h in holes):
            holes.append(box)
    if len(holes) != count:
        raise ValueError(f"count: could not place {count} holes of {hole_size}px in {width}x{height}")
    return holes


def holes_mask(height: int, width: int, holes: list[Box]) -> np.ndarray:
    """An ``HxW uint8`` mask: 255 inside a hole, 0 for known pixels."""
    mask = np.zeros((height, width), np.uint8)
    for x, y, w, h in holes:
        mask[y : y + h, x : x + w] = 255
    return mask


def fill_holes(image: np.ndarray, mask: np.ndarray, *, fill: int) -> np.ndarray:
    """Copy of ``image`` with every masked pixel set to ``fill`` in all channels."""
    out = image.copy()
    out[mask > 0] = fill
    return out


@dataclass(frozen=True)
class HolesOp:
    """``count`` square holes of ``size`` pixels, filled with ``fill``."""

    count: int
    size: int
    fill: int = 0

    def sample(self, rng: np.random.Generator, *, height: int, width: int) -> dict:
        holes = make_holes(rng, height=height, width=width, count=self.count, hole_size=self.size)
        return {"holes": [list(h) for h in holes], "fill": self.fill}

    def apply(self, image: np.ndarray, params: dict) -> np.ndarray:
        mask = holes_mask(image.shape[0], image.shape[1], [tuple(h) for h in params["holes"]])
        return fill_holes(image, mask, fill=params["fill"])
