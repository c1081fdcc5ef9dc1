"""Tiling geometry: tile origins, blend ramps, crops and edge padding, for :class:`pixbench.runtime.runner.Runner`."""

from __future__ import annotations

import numpy as np


def pad_to(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``x`` (``HxWxC``) edge-padded at the bottom and right to at least ``size``; ``x`` itself if it is that big."""
    ph, pw = max(0, size[0] - x.shape[0]), max(0, size[1] - x.shape[1])
    return np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else x


def positions(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins covering ``length`` with at least ``overlap`` shared pixels; the last ends at the edge."""
    if length <= tile:
        return [0]
    pos = list(range(0, length - tile, tile - overlap))
    return pos + [length - tile]


def crops(x: np.ndarray, tile: tuple[int, int], overlap: int | tuple[int, int]):
    """Stacked tiles of ``x`` (``HxWxC``) and their ``(y, x)`` origins."""
    ov = overlap if isinstance(overlap, tuple) else (overlap, overlap)
    hh, ww = x.shape[:2]
    where = [(y, x0) for y in positions(hh, tile[0], ov[0]) for x0 in positions(ww, tile[1], ov[1])]
    return np.stack([x[y : y + tile[0], x0 : x0 + tile[1]] for y, x0 in where]), where


def ramp(n: int, overlap: int) -> np.ndarray:
    """Blend weights along one tile axis: 1 in the middle, falling linearly over ``overlap`` pixels at each end."""
    if overlap <= 0:
        return np.ones(n, np.float32)
    i = np.arange(n, dtype=np.float32) + 0.5
    return np.minimum(1.0, np.minimum(i, n - i) / overlap).astype(np.float32)
