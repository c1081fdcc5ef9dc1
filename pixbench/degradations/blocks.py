"""BlockCNN triplets: a 24x24 JPEG-decoded neighbourhood and the clean 8x8 block at its centre."""

from __future__ import annotations

import numpy as np

#: The JPEG block that BlockCNN restores, and the side of the neighbourhood it sees (3 x 3 blocks);
#: the builder, the training data, the model and the evaluator all take them from here.
BLOCK = 8
CONTEXT = 24


def block_positions(height: int, width: int) -> list[tuple[int, int]]:
    """Every 8x8 grid block whose full 24x24 neighbourhood lies inside the image.

    Returns:
        ``(x, y)`` of each block's top-left corner (multiples of 8), row-major.
    """
    return [
        (x, y) for y in range(BLOCK, height - 2 * BLOCK + 1, BLOCK) for x in range(BLOCK, width - 2 * BLOCK + 1, BLOCK)
    ]


def extract_triplets(
    degraded: np.ndarray, clean: np.ndarray, positions: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Cut BlockCNN pairs at ``positions`` (block corners on the 8x8 JPEG grid).

    Args:
        degraded: The JPEG-decoded ``HxWx3 uint8`` image, its JPEG grid starting at (0, 0).
        clean: The clean image of the same shape.
        positions: ``(x, y)`` block corners, multiples of 8, from :func:`block_positions`.

    Returns:
        ``inputs (N, 24, 24, 3)`` and ``targets (N, 8, 8, 3)``, uint8.
    """
    if degraded.shape != clean.shape:
        raise ValueError(f"degraded {degraded.shape} and clean {clean.shape} differ in shape")
    n = len(positions)
    xs = np.empty((n, CONTEXT, CONTEXT, 3), np.uint8)
    ys = np.empty((n, BLOCK, BLOCK, 3), np.uint8)
    h, w = clean.shape[:2]
    for i, (x, y) in enumerate(positions):
        if x % BLOCK or y % BLOCK or x < BLOCK or y < BLOCK or x + 2 * BLOCK > w or y + 2 * BLOCK > h:
            raise ValueError(f"positions[{i}]: block ({x}, {y}) is off the 8x8 grid or its context leaves the image")
        xs[i] = degraded[y - BLOCK : y + 2 * BLOCK, x - BLOCK : x + 2 * BLOCK]
        ys[i] = clean[y : y + BLOCK, x : x + BLOCK]
    return xs, ys
