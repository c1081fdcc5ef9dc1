"""Labelled pixelated / clean samples for fitting the grid detector (``tools/fit_grid_detector.py``).

The samples mirror the ``detect`` recipe (256x256 crops, never a resize of the
whole frame; factors 2..16; down and up kernels from nearest, box, bilinear,
bicubic and lanczos) and add the hard negatives the detector must not flag:
JPEG-compressed crops (q >= 50, whose 8x8 blocking is periodic too), the
flattest and the busiest crop of an image, and clean images that were only
downscaled (resampled, but not pixelated). Tuning uses BSD68 and scikit-image's
bundled photos; Kodak and Set14 are kept for testing.

The pixels are made by :mod:`pixbench.degradations` (pixelation with real-valued
factors, so with the low-res size rounded to nearest; JPEG 4:2:0); the photos come
from :mod:`tuning_photos`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixbench.degradations.jpeg import jpeg_roundtrip
from pixbench.degradations.pixelate import KERNELS, pixelate, upscale

NEGATIVE_KINDS = ("clean", "jpeg", "flat", "texture", "downscaled")


@dataclass
class Sample:
    """One labelled image and the parameters that made it (``factor`` is 0 for negatives)."""

    image: np.ndarray
    label: int
    kind: str
    factor: float = 0.0
    down_kernel: str = ""
    up_kernel: str = ""


def resize(image: np.ndarray, size: tuple[int, int], kernel: str) -> np.ndarray:
    """Pillow resize of an ``HxWx3`` uint8 array to ``size = (width, height)``.

    :func:`pixbench.degradations.upscale` is a plain resize to any size, so it
    shrinks as well; only the argument order, width first as in Pillow, is this helper's.
    """
    return upscale(image, size=(size[1], size[0]), kernel=kernel)


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return image[y : y + size, x : x + size]


def _extreme_crop(image: np.ndarray, size: int, rng: np.random.Generator, *, flattest: bool) -> np.ndarray:
    candidates = [random_crop(image, size, rng) for _ in range(12)]
    spread = [float(np.abs(np.diff(c.astype(np.int16), axis=1)).mean()) for c in candidates]
    return candidates[int(np.argmin(spread) if flattest else np.argmax(spread))]


def sample_factor(rng: np.random.Generator) -> float:
    """Half integer factors 2..16, half real factors in [2, 16]."""
    if rng.random() < 0.5:
        return float(rng.integers(2, 17))
    return float(rng.uniform(2.0, 16.0))


def positive(image: np.ndarray, size: int, rng: np.random.Generator) -> Sample:
    """A pixelated crop, its grid at a random phase (pixelate a larger crop, then cut)."""
    factor = sample_factor(rng)
    down, up = (str(k) for k in rng.choice(list(KERNELS), size=2))
    margin = min(int(np.ceil(factor)), image.shape[0] - size, image.shape[1] - size)
    big = random_crop(image, size + max(margin, 0), rng)
    # "nearest" rounding: real-valued factors, and the low-res size the shipped parameters were fitted on
    out = random_crop(pixelate(big, factor=factor, down_kernel=down, up_kernel=up, rounding="nearest"), size, rng)
    return Sample(np.ascontiguousarray(out), 1, "pixelated", factor, down, up)


def negative(image: np.ndarray, size: int, rng: np.random.Generator, kind: str) -> Sample:
    """A clean crop of one of :data:`NEGATIVE_KINDS`."""
    if kind == "clean":
        out = random_crop(image, size, rng)
    elif kind == "jpeg":
        out = jpeg_roundtrip(random_crop(image, size, rng), quality=int(rng.integers(50, 96)), subsampling="4:2:0")
    elif kind in ("flat", "texture"):
        out = _extreme_crop(image, size, rng, flattest=kind == "flat")
    elif kind == "downscaled":
        h, w = image.shape[:2]
        scale = float(rng.uniform(1.1, 4.0))
        kernel = str(rng.choice(["box", "bilinear", "bicubic", "lanczos"]))
        small = resize(image, (max(size, round(w / scale)), max(size, round(h / scale))), kernel)
        out = random_crop(small, size, rng)
    else:
        raise ValueError(f"kind: unknown negative kind {kind!r}; expected one of {', '.join(NEGATIVE_KINDS)}")
    return Sample(np.ascontiguousarray(out), 0, kind)


def make_samples(images: list[np.ndarray], n: int, rng: np.random.Generator, *, size: int = 256) -> list[Sample]:
    """``n`` balanced samples (half pixelated, half clean of rotating hard-negative kinds)."""
    out = []
    for i in range(n):
        image = images[int(rng.integers(len(images)))]
        s = min(size, image.shape[0] - 16, image.shape[1] - 16)
        if i % 2 == 0:
            out.append(positive(image, s, rng))
        else:
            out.append(negative(image, s, rng, NEGATIVE_KINDS[(i // 2) % len(NEGATIVE_KINDS)]))
    return out
