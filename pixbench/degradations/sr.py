"""Bicubic super-resolution pairs as the SR literature makes them: modcrop, MATLAB ``imresize`` down and up.

The papers (SRCNN, VDSR, ESPCN, FSRCNN and those after them) crop each test image to a multiple
of the scale (``modcrop``), shrink it with MATLAB's ``imresize(I, 1/s, 'bicubic')`` (antialiased
Keys cubic, symmetric borders, rounded to ``uint8``) and, for models that take an image of the
target's size and for the "Bicubic" row, enlarge the low-resolution image again with
``imresize(L, s, 'bicubic')``. :func:`pixbench.degradations.imresize` computes MATLAB's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixbench.degradations.resize import imresize


def modcrop(image: np.ndarray, factor: int) -> np.ndarray:
    """The top-left part of ``image`` whose sides are multiples of ``factor`` (MATLAB ``modcrop``)."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor: expected an integer >= 1, got {factor!r}")
    h, w = image.shape[:2]
    if h < factor or w < factor:
        raise ValueError(f"image: {w}x{h} is smaller than the factor {factor}")
    return np.ascontiguousarray(image[: h - h % factor, : w - w % factor])


def bicubic_pair(image: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(target, lowres, upscaled)`` of one image at one factor.

    ``target`` is the modcropped image, ``lowres`` its MATLAB-bicubic shrink by ``factor`` and
    ``upscaled`` that low-resolution image enlarged back to the target's size, both by :func:`imresize`.
    """
    target = modcrop(image, factor)
    h, w = target.shape[:2]
    lowres = imresize(target, output_shape=(h // factor, w // factor))
    return target, lowres, imresize(lowres, output_shape=(h, w))


@dataclass(frozen=True)
class BicubicDownOp:
    """Every factor of the recipe's list, one sample each: MATLAB-bicubic low-res and its bicubic upscale."""

    factors: tuple[int, ...]

    def levels(self) -> list[dict]:
        """The params of each level, in recipe order: ``{"factor": s}``."""
        return [{"factor": int(f)} for f in self.factors]

    def apply(self, image: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`bicubic_pair` of ``image`` at ``params["factor"]``."""
        return bicubic_pair(image, params["factor"])
