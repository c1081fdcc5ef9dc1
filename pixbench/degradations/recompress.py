"""What happens to a whole image after it was mosaicked: nothing, a JPEG re-encode, or a downscale then JPEG.

The ``downscale-jpeg`` case shrinks the image by a factor ``scale`` (to ``round(W * scale) x
round(H * scale)``, at least one pixel) with one of Pillow's kernels before the JPEG round trip,
as when a screenshot or a frame is shared; its mask is shrunk with it (the share of each new
pixel's area that was mosaicked, Pillow's ``box`` filter, kept where it is at least one half), so
that mask and image stay aligned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from pixbench.degradations.jpeg import jpeg_roundtrip
from pixbench.degradations.pixelate import KERNELS

#: The cases, in the order a recipe's ``weights`` list them.
POSTS = ("none", "jpeg", "downscale-jpeg")


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """``(H, W)`` of an image shrunk by ``scale``: each side rounded, at least one pixel."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def shrink_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A bool ``HxW`` mask resized to ``size`` = ``(H, W)``: True where at least half of a new pixel's area was True."""
    small = Image.fromarray(mask.astype(np.uint8) * 255).resize((size[1], size[0]), Image.Resampling.BOX)
    return np.asarray(small) >= 128


def recompress(image: np.ndarray, mask: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Apply one drawn case (``post``, with ``quality``, ``scale`` and ``kernel`` where it has them)."""
    post = params["post"]
    if post == "none":
        return image, mask
    if post == "downscale-jpeg":
        size = scaled_size(*image.shape[:2], params["scale"])
        small = Image.fromarray(image).resize((size[1], size[0]), KERNELS[params["kernel"]])
        image, mask = np.ascontiguousarray(np.asarray(small, dtype=np.uint8)), shrink_mask(mask, size)
    return jpeg_roundtrip(image, quality=params["quality"], subsampling="4:2:0"), mask


@dataclass(frozen=True)
class RecompressOp:
    """One of :data:`POSTS` drawn by weight; a quality in ``qualities`` and a scale in ``scales`` (both inclusive)."""

    weights: tuple[float, float, float]
    qualities: tuple[int, int]
    scales: tuple[float, float]
    kernels: tuple[str, ...]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw ``post``, then its quality, then (``downscale-jpeg``) its scale and kernel."""
        w = np.asarray(self.weights, dtype=np.float64)
        post = POSTS[int(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right"))]
        params: dict[str, Any] = {"post": post}
        if post != "none":
            params["quality"] = int(rng.integers(self.qualities[0], self.qualities[1] + 1))
        if post == "downscale-jpeg":
            params["scale"] = round(float(rng.uniform(*self.scales)), 3)
            params["kernel"] = self.kernels[int(rng.integers(len(self.kernels)))]
        return params

    def apply(self, image: np.ndarray, mask: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return recompress(image, mask, params)
