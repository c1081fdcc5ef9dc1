"""Pixelation: downscale by an integer factor, then upscale back to the original size."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: Resampling kernels a recipe may name, mapped to Pillow's filters.
KERNELS: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def _kernel(name: str, param: str) -> Image.Resampling:
    if name not in KERNELS:
        raise ValueError(f"{param}: unknown kernel {name!r}; expected one of {', '.join(KERNELS)}")
    return KERNELS[name]


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {image.shape} {image.dtype}")


#: How :func:`downscale` turns ``side / factor`` into a whole number of low-res pixels.
ROUNDINGS = ("ceil", "nearest")


def downscale(image: np.ndarray, *, factor: float, kernel: str, rounding: str = "ceil") -> np.ndarray:
    """Shrink ``image`` by ``factor``, by default to ``(ceil(H / factor), ceil(W / factor))``.

    Args:
        image: ``HxWx3 uint8``.
        factor: An integer >= 1 with ``rounding="ceil"``; any real number >= 1 with ``"nearest"``.
        kernel: One of :data:`KERNELS`.
        rounding: ``"ceil"`` (the recipes: every source pixel lands in a low-res pixel) or
            ``"nearest"`` (Python's ``round``, half to even: the size nearest ``side / factor``,
            which real-valued factors such as 6.5 need; the pixelation detector is fitted on those).
    """
    _check_image(image)
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding: expected one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    if rounding == "ceil" and (not isinstance(factor, (int, np.integer)) or factor < 1):
        raise ValueError(f"factor: expected an integer >= 1, got {factor!r}")
    if rounding == "nearest" and (not isinstance(factor, (int, float, np.integer, np.floating)) or not factor >= 1):
        raise ValueError(f"factor: expected a number >= 1, got {factor!r}")
    h, w = image.shape[:2]
    shrink = math.ceil if rounding == "ceil" else round
    size = (max(1, shrink(w / factor)), max(1, shrink(h / factor)))
    small = Image.fromarray(image).resize(size, _kernel(kernel, "down_kernel"))
    return np.ascontiguousarray(np.asarray(small, dtype=np.uint8))


def upscale(image: np.ndarray, *, size: tuple[int, int], kernel: str) -> np.ndarray:
    """Resize ``image`` to ``size`` = ``(H, W)`` with the named kernel."""
    _check_image(image)
    big = Image.fromarray(image).resize((size[1], size[0]), _kernel(kernel, "up_kernel"))
    return np.ascontiguousarray(np.asarray(big, dtype=np.uint8))


def pixelate(
    image: np.ndarray, *, factor: float, down_kernel: str, up_kernel: str, rounding: str = "ceil"
) -> np.ndarray:
    """Pixelate ``image``: downscale by ``factor``, then upscale back to its own size.

    With ``down_kernel="box"`` and ``up_kernel="nearest"`` and sides divisible by
    ``factor`` this is the classic mosaic: every ``factor x factor`` block holds
    its rounded mean colour.

    Args:
        image: ``HxWx3 uint8``.
        factor: Downscale factor: an integer >= 1, or a real one with ``rounding="nearest"``.
        down_kernel: One of :data:`KERNELS`.
        up_kernel: One of :data:`KERNELS`.
        rounding: How the low-res size is rounded (see :func:`downscale`).

    Returns:
        The pixelated ``HxWx3 uint8`` image, same shape as ``image``.
    """
    small = downscale(image, factor=factor, kernel=down_kernel, rounding=rounding)
    return upscale(small, size=image.shape[:2], kernel=up_kernel)


@dataclass(frozen=True)
class PixelateOp:
    """Sampled pixelation: factor and kernels drawn uniformly from the recipe's lists."""

    factors: tuple[int, ...]
    down_kernels: tuple[str, ...]
    up_kernels: tuple[str, ...]

    def sample(self, rng: np.random.Generator) -> dict:
        """Draw ``{"factor", "down_kernel", "up_kernel"}``."""
        return {
            "factor": int(self.factors[rng.integers(len(self.factors))]),
            "down_kernel": str(self.down_kernels[rng.integers(len(self.down_kernels))]),
            "up_kernel": str(self.up_kernels[rng.integers(len(self.up_kernels))]),
        }

    def apply(self, image: np.ndarray, params: dict) -> np.ndarray:
        return pixelate(
            image, factor=params["factor"], down_kernel=params["down_kernel"], up_kernel=params["up_kernel"]
        )
