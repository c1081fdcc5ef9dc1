"""Colour conversions and resizing for Y-only models: full-range BT.601 YCbCr, Pillow bicubic."""

from __future__ import annotations

import numpy as np
from PIL import Image


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 (JPEG/JFIF, as Pillow's ``YCbCr``) of ``...x3`` values in [0, 255], as float32."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
    out = rgb.astype(np.float32) @ m.T
    out[..., 1:] += 128.0
    return out


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr` (float32, not clipped)."""
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=-1)


def bicubic_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``HxWxC`` float image to ``size`` (h, w) with Pillow's bicubic filter, per channel."""
    chans = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., k], np.float32), mode="F").resize(
                (size[1], size[0]), Image.BICUBIC
            )
        )
        for k in range(image.shape[-1])
    ]
    return np.stack(chans, axis=-1)
