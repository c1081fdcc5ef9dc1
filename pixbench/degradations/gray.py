"""Grayscale images as the JPEG literature makes them, and their JPEG round trip.

The grayscale test sets of the JPEG artifact-removal papers (Classic5, and LIVE1 in gray) are one
plane of 8-bit values. Classic5 is gray already; LIVE1 is colour and its gray version is the luma
of MATLAB's ``rgb2ycbcr``: BT.601 studio range, ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``,
rounded to an integer. The degraded image is that plane saved as a one-component baseline JPEG
at a quality and decoded again (MATLAB's ``imwrite`` and Pillow both use libjpeg's standard
quantisation tables, scaled by the same quality rule).

pixbench images are ``HxWx3 uint8``: a gray image is its plane repeated in all three channels,
which every stage reads as it reads any photo.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: MATLAB ``rgb2ycbcr`` luma weights for 8-bit R, G, B (BT.601, 16..235) and its offset.
STUDIO_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
STUDIO_OFFSET = 16.0


def _check_rgb(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {image.shape} {image.dtype}")


def _check_plane(plane: np.ndarray) -> None:
    if plane.dtype != np.uint8 or plane.ndim != 2:
        raise ValueError(f"expected an HxW uint8 plane, got shape {plane.shape} {plane.dtype}")


def is_gray(image: np.ndarray) -> bool:
    """Whether an ``HxWx3`` image has the same value in its three channels everywhere."""
    _check_rgb(image)
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def studio_luma(image: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr(image)(:, :, 1)`` of an ``HxWx3 uint8`` image: BT.601 studio luma rounded to ``uint8``.

    Computed in float64 and rounded half away from zero, as MATLAB rounds on its way to ``uint8``.
    """
    _check_rgb(image)
    r, g, b = (image[..., k].astype(np.float64) for k in range(3))
    y = STUDIO_OFFSET + STUDIO_WEIGHTS[0] * r + STUDIO_WEIGHTS[1] * g + STUDIO_WEIGHTS[2] * b
    return np.floor(y + 0.5).astype(np.uint8)  # y > 0: half away from zero is floor(y + 0.5)


def gray_plane(image: np.ndarray) -> tuple[np.ndarray, str]:
    """The gray plane of a source image, and how it was made.

    A gray image (equal channels) gives its own values (``"source"``); a colour image its
    studio-range luma (``"bt601-studio"``, :func:`studio_luma`).
    """
    if is_gray(image):
        return np.ascontiguousarray(image[..., 0]), "source"
    return studio_luma(image), "bt601-studio"


def display_gray(image: np.ndarray) -> np.ndarray:
    """The gray plane an ``HxWx3 uint8`` image is scored on: Pillow's ``convert("L")``.

    Pillow's fixed-point BT.601 luma ``(19595 R + 38470 G + 7471 B + 32768) >> 16``: a gray image
    (equal channels) gives its own values exactly, and a colour output is read as a gray display shows it.
    """
    _check_rgb(image)
    r, g, b = (image[..., k].astype(np.uint32) for k in range(3))
    return ((19595 * r + 38470 * g + 7471 * b + 32768) >> 16).astype(np.uint8)


def as_rgb(plane: np.ndarray) -> np.ndarray:
    """An ``HxW uint8`` plane repeated into the three channels of an ``HxWx3`` image."""
    _check_plane(plane)
    return np.ascontiguousarray(np.repeat(plane[..., None], 3, axis=2))


def jpeg_roundtrip_gray(plane: np.ndarray, *, quality: int) -> np.ndarray:
    """Encode an ``HxW uint8`` plane as a one-component baseline JPEG (Pillow mode ``L``) and decode it.

    Args:
        plane: The gray image.
        quality: libjpeg quality, 1..100 (the standard luminance table, scaled as libjpeg scales it).

    Returns:
        The decoded ``HxW uint8`` plane.
    """
    _check_plane(plane)
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"quality: expected an integer in 1..100, got {quality!r}")
    buf = io.BytesIO()
    Image.fromarray(plane).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as img:
        return np.ascontiguousarray(np.asarray(img.convert("L"), dtype=np.uint8))


@dataclass(frozen=True)
class GrayJpegOp:
    """Every quality of the recipe's list, one sample each: the gray plane's JPEG round trip."""

    qualities: tuple[int, ...]

    def levels(self) -> list[dict]:
        """The params of each level, in recipe order: ``{"quality": q}``."""
        return [{"quality": int(q)} for q in self.qualities]

    def apply(self, plane: np.ndarray, params: dict) -> np.ndarray:
        """The decoded JPEG of ``plane`` (``HxW uint8``) at ``params["quality"]``."""
        return jpeg_roundtrip_gray(plane, quality=params["quality"])
