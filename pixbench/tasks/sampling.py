"""What the tasks' sample makers share: the :class:`TaskSample` record and the random crop.

A sample maker (:meth:`pixbench.tasks.Task.make_sample`) is a pure function of the clean
image, the recipe, a ``numpy.random.Generator`` and the crop index: no file I/O, no global
state. The builder seeds the generator per sample and writes what the maker returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TaskSample:
    """The arrays and parameters of one sample, before they are written to disk.

    Attributes:
        input: What the model gets (``input/``).
        params: The sample's parameters: the metadata columns and ``params`` of ``metadata.csv``.
        target: The clean image (``target/``), for restoration tasks.
        lowres: The low-res grid (``lowres/``), for tasks that take it.
        mask: The hole mask (``mask/``, True in a hole), for tasks that take it.
        label: 1 for a degraded crop and 0 for a clean one, for detection.
        triplets: Blockwise tasks: the ``(N, 24, 24, 3)`` contexts, their ``(N, 8, 8, 3)`` clean
            centre blocks and the blocks' ``(x, y)`` positions.
    """

    input: np.ndarray
    params: dict[str, Any]
    target: np.ndarray | None = None
    lowres: np.ndarray | None = None
    mask: np.ndarray | None = None
    label: int | None = None
    triplets: tuple[np.ndarray, np.ndarray, list[tuple[int, int]]] | None = field(default=None, repr=False)


def crop_origin(rng: np.random.Generator, h: int, w: int, size: int, align: int) -> tuple[int, int]:
    """A random top-left corner of a ``size`` square inside ``h x w``, on a multiple of ``align`` (x drawn first)."""
    x = align * int(rng.integers(0, (w - size) // align + 1))
    y = align * int(rng.integers(0, (h - size) // align + 1))
    return x, y


def cut(image: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    """The ``size`` square of ``image`` at ``(x, y)``, as its own contiguous array."""
    return np.ascontiguousarray(image[y : y + size, x : x + size])


def box(x: int, y: int, size: int) -> dict[str, int]:
    """The ``crop_*`` metadata columns of a square cut at ``(x, y)``."""
    return {"crop_x": x, "crop_y": y, "crop_w": size, "crop_h": size}


def random_crop(image: np.ndarray, recipe: Any, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, int]]:
    """The recipe's crop (``crop.size``, origin on ``crop.align``) at a random place: the clean pixels and their box.

    Draws two integers from ``rng`` (the origin's x, then y).
    """
    size = recipe.crop.size
    x, y = crop_origin(rng, *image.shape[:2], size, recipe.crop.align)
    return cut(image, x, y, size), box(x, y, size)
