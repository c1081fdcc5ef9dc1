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


def downscale(image: np.ndarray, *, factor: int, kernel: str) -> np.ndarray:
    """Shrink ``image`` by ``factor`` to ``(ceil(H / factor), ceil(W / factor))``."""
    _check_image(image)
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor: expected an integer >= 1, got {factor!r}")
    h, w = image.shape[:2]
    size = (max(1, math.ceil(w / factor)), max(1, math.ceil(h / factor)))
    small = Image.fromarray(image).resize(size, _kernel(kernel, "down_kernel"))
    return np.ascontiguousarray(np.asarray(small, dtype=np.uint8))


def upscale(image: np.ndarray, *, size: tuple[int, int], kernel: str) -> np.ndarray:
    """Resize ``image`` to ``size`` = ``(H, W)`` with the named kernel."""
    _check_image(image)
    big = Image.fromarray(image).resize((size[1], size[0]), _kernel(kernel, "up_kernel"))
    return np.ascontiguousarray(np.asarray(big, dtype=np.uint8))


def pixelate(image: np.ndarray, *, factor: int, down_kernel: str, up_kernel: str) -> np.ndarray:
    """Pixelate ``image``: downscale by ``factor``, then upscale back to its own size.

    With ``down_kernel="box"`` and ``up_kernel="nearest"`` and sides divisible by
    ``factor`` this is the classic mosaic: every ``factor x factor`` block holds
    its rounded mean colour.

    Args:
        image: ``HxWx3 uint8``.
        factor: Integer downscale factor (>= 1).
        down_kernel: One of :data:`KERNELS`.
        up_kernel: One of :data:`KERNELS`.

    Returns:
        The pixelated ``HxWx3 uint8`` image, same shape as ``image``.
    """
    small = downscale(image, factor=factor, kernel=down_kernel)
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
        return pixelate(image, factor=params["factor"], down_kernel=params["down_kernel"],
                        up_kernel=params["up_kernel"])
