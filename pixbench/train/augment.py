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

from pixbench.degradations.blocks import BLOCK

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


#: Blocks per side of the crops whose border blocks :func:`random_border_sides` imitates
#: (the 128x128 crops of the blockcnn-triplets recipe hold 16x16 JPEG blocks).
BORDER_GRID = 16


def random_border_sides(rng: np.random.Generator, blocks: int = BORDER_GRID) -> tuple[bool, bool, bool, bool]:
    """Draw the image sides (top, bottom, left, right) that a border block touches.

    The block is drawn uniformly from the border ring of a ``blocks x blocks`` grid, so a
    side is drawn as often as edge blocks occur and a corner (two sides) as often as corner
    blocks do (one ``rng.integers`` call).
    """
    n = blocks - 1
    i = int(rng.integers(4 * n))  # walk the ring: top row, right column, bottom row, left column
    side, pos = divmod(i, n)
    row, col = [(0, pos), (pos, n), (n, n - pos), (n - pos, 0)][side]
    return row == 0, row == n, col == 0, col == n


def edge_context(context: np.ndarray, sides: tuple[bool, bool, bool, bool], block: int = BLOCK) -> np.ndarray:
    """A ``(3 block) x (3 block)`` context as sliding over a whole image builds it at the image border.

    For each side in ``sides`` (top, bottom, left, right) the neighbouring blocks beyond it
    are replaced by the centre row of pixels nearest to them repeated, as edge padding of
    the image does (:func:`pixbench.runtime.runner.block_padded`, what the evaluator slides
    BlockCNN over); a corner gets both. Returns a new array.
    """
    x = np.array(context)
    top, bottom, left, right = sides
    if top:
        x[:block] = x[block : block + 1]
    if bottom:
        x[2 * block :] = x[2 * block - 1 : 2 * block]
    if left:
        x[:, :block] = x[:, block : block + 1]
    if right:
        x[:, 2 * block :] = x[:, 2 * block - 1 : 2 * block]
    return x
