"""Training augmentation that keeps pixel grids intact: the 8 dihedral transforms.

A flip or a 90-degree rotation moves every pixel to another pixel (no resampling), and on
a crop whose side is a multiple of the degradation's period (the JPEG 8x8 grid, the
pixelation factor) it maps the grid onto itself. So the transforms allowed for one sample
are those that keep its grid where it was: an axis is reversed only if its length is a
multiple of ``align``, and rotations (which transpose) only on square crops. The same
transform is applied to every array of a sample (input, target, mask, low-resolution grid).
"""

from __future__ import annotations

import numpy as np

#: Element ``k`` of the dihedral group as (transpose, reverse rows, reverse columns),
#: applied in that order. 0 is the identity; 1-3 are the other flips; 4-7 transpose.
DIHEDRAL: tuple[tuple[bool, bool, bool], ...] = tuple((bool(k & 4), bool(k & 2), bool(k & 1)) for k in range(8))


def dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """Apply element ``k`` (0-7) of :data:`DIHEDRAL` to an ``HxW`` or ``HxWxC`` array (a view)."""
    transpose, rows, cols = DIHEDRAL[k]
    out = image.swapaxes(0, 1) if transpose else image
    if rows:
        out = out[::-1]
    if cols:
        out = out[:, ::-1]
    return out


def grid_safe(h: int, w: int, align: int = 1) -> list[int]:
    """The elements of :data:`DIHEDRAL` that keep an ``align``-periodic grid of an ``h x w`` crop in place."""
    align = max(1, int(align))
    safe = []
    for k, (transpose, rows, cols) in enumerate(DIHEDRAL):
        if transpose and h != w:
            continue
        if (rows and h % align) or (cols and w % align):
            continue
        safe.append(k)
    return safe


def random_dihedral(rng: np.random.Generator, h: int, w: int, align: int = 1) -> int:
    """Draw one grid-safe element for an ``h x w`` crop (one ``rng.integers`` call)."""
    safe = grid_safe(h, w, align)
    return safe[int(rng.integers(len(safe)))]
