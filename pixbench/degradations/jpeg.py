"""JPEG round trip with a stated encoder, quality and chroma subsampling."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import PIL
from PIL import Image, features

#: Pillow's names for chroma subsampling.
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def encoder_name() -> str:
    """The JPEG encoder in use, e.g. ``"Pillow 11.0.0 / libjpeg-turbo 3.0.4"``.

    Different libjpeg builds may produce different bytes for the same quality, so
    the dataset card names the one that built it.
    """
    turbo = features.version_feature("libjpeg_turbo")
    lib = f"libjpeg-turbo {turbo}" if turbo else "libjpeg"
    return f"Pillow {PIL.__version__} / {lib} (libjpeg API {features.version('jpg')})"


def jpeg_roundtrip(image: np.ndarray, *, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    """Encode ``image`` as a baseline JPEG and decode it again.

    Args:
        image: ``HxWx3 uint8``.
        quality: libjpeg quality, 1..95 (Pillow's standard quantisation tables).
        subsampling: ``"4:4:4"``, ``"4:2:2"`` or ``"4:2:0"``.

    Returns:
        The decoded ``HxWx3 uint8`` image.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {image.shape} {image.dtype}")
    if not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"quality: expected an integer in 1..100, got {quality!r}")
    if subsampling not in SUBSAMPLING:
        raise ValueError(f"subsampling: expected one of {', '.join(SUBSAMPLING)}, got {subsampling!r}")
    buf = io.BytesIO()
    # optimize/progressive change only the entropy coding, not the pixels; keep
    # them off so the encoded stream is the plain baseline one.
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality), subsampling=SUBSAMPLING[subsampling])
    buf.seek(0)
    with Image.open(buf) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


@dataclass(frozen=True)
class JpegOp:
    """Sampled JPEG: quality drawn uniformly from the recipe's list."""

    qualities: tuple[int, ...]
    subsampling: str = "4:2:0"

    def sample(self, rng: np.random.Generator) -> dict:
        return {"quality": int(self.qualities[rng.integers(len(self.qualities))]), "subsampling": self.subsampling}

    def apply(self, image: np.ndarray, params: dict) -> np.ndarray:
        return jpeg_roundtrip(image, quality=params["quality"], subsampling=params["subsampling"])
