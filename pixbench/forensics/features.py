"""Analytic pixelation features: difference profiles and their spectra.

Pixelation is a property of how pixels were made. Two traces survive any content:

* Replicating (nearest) upscales leave exact runs of equal pixels on a grid: the
  first difference along a row is exactly zero inside a block and non-zero only
  on block boundaries, in every row at the same columns.
* Interpolating upscales (bilinear, bicubic, lanczos) make every output pixel a
  fixed linear combination of its neighbours, with weights that repeat with the
  scale period. The magnitude of a linear-predictor residue (here the second
  difference) is therefore periodic (Popescu & Farid 2005; Kirchner 2008).

Averaging a difference magnitude down the columns gives a 1-D *profile* per
direction in which the grid is a periodic pattern and the content averages out.
This module computes three profiles per direction (mean |first difference|,
fraction of exactly-zero first differences, mean |second difference|), their
modulation spectrum on a fixed frequency grid, and 34 scalar features.

The ONNX graph in :mod:`pixbench.forensics.onnx_detector` computes the same
numbers; this numpy version is the reference it is tested against.
"""

from __future__ import annotations

import numpy as np

#: Frequency grid in cycles per pixel: i / 320 for i = 16..160, i.e. 0.05 .. 0.5.
#: It covers periods 2 .. 20 and contains the JPEG block harmonics k/8 exactly.
FREQ_DENOM = 320
FREQS = np.arange(16, 161, dtype=np.float64) / FREQ_DENOM
#: Indices of the bins at the JPEG 8x8 harmonics 1/8, 2/8, 3/8, 4/8.
JPEG_BINS = np.array([40, 80, 120, 160]) - 16
#: Bins within 2 of a JPEG harmonic, excluded from the "off-JPEG" peak.
_NEAR_JPEG = np.zeros(FREQS.size, dtype=bool)
for _b in JPEG_BINS:
    _NEAR_JPEG[max(_b - 2, 0) : _b + 3] = True
OFF_JPEG_MASK = ~_NEAR_JPEG
#: Offsets added before normalising a profile by its mean (in units of the
#: channel-sum grey, 0..765, for the difference profiles, a fraction for the zero profile), so that near-empty
#: profiles of flat images do not blow up into large relative modulations.
PROFILE_OFFSETS = (1.5, 0.02, 1.5)
#: Most rows (or columns) averaged into a profile; larger images are strided.
MAX_LINES = 512
#: Number of features: per direction 3 profiles x 4 spectral numbers + 5 globals.
N_FEATURES = 34
EPS = 1e-4


def check_image(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Validate an ``HxWx3`` uint8 image (at least 16x16) and return it."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"{name}: expected an HxWx3 uint8 image, got shape {shape} {dtype}")
    if image.shape[0] < 16 or image.shape[1] < 16:
        raise ValueError(f"{name}: expected at least 16x16 pixels, got {image.shape[1]}x{image.shape[0]}")
    return image


def line_stride(length: int) -> int:
    """Stride that keeps at most about :data:`MAX_LINES` lines out of ``length``."""
    return max(1, -(-length // MAX_LINES))


def profiles(grey: np.ndarray) -> np.ndarray:
    """The three column profiles of a greyscale array, differences taken along axis 1.

    Args:
        grey: ``(R, C)`` float array (rows may already be strided).

    Returns:
        ``(3, C - 2)`` float64: mean |first difference|, fraction of zero first
        differences, mean |second difference|. The first two are cut to ``C - 2``
        so the three share one length (the last column pair is dropped).
    """
    d1 = grey[:, 1:] - grey[:, :-1]
    d2 = d1[:, 1:] - d1[:, :-1]
    n = d2.shape[1]
    p1 = np.abs(d1[:, :n]).mean(axis=0)
    pz = (d1[:, :n] == 0).mean(axis=0)
    p2 = np.abs(d2).mean(axis=0)
    return np.stack([p1, pz, p2]).astype(np.float64)


def modulation_spectrum(profile_stack: np.ndarray) -> np.ndarray:
    """Relative modulation of each profile at every frequency of :data:`FREQS`.

    ``M(nu) = |sum_x q[x] exp(-2 pi i nu x)| / n`` with ``q = (p - mean p) / (mean p + offset)``:
    about 0.5 for a profile that switches fully on and off with period ``1/nu``,
    about ``std(q) / sqrt(n)`` for a profile without periodicity.
    """
    n = profile_stack.shape[1]
    mean = profile_stack.mean(axis=1, keepdims=True)
    offsets = np.asarray(PROFILE_OFFSETS, dtype=np.float64)[:, None]
    q = (profile_stack - mean) / (mean + offsets)
    phase = np.outer(np.arange(n, dtype=np.float64), 2 * np.pi * FREQS)
    re = q @ np.cos(phase)
    im = q @ np.sin(phase)
    return np.sqrt(re * re + im * im) / n


def direction_features(profile_stack: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
    """17 features of one direction from its profiles and their spectrum."""
    out = []
    for m in spectrum:
        out += [m.max(), m.mean(), m[JPEG_BINS].max(), m[OFF_JPEG_MASK].max()]
    out = list(np.log(np.asarray(out) + EPS))
    p1, pz, p2 = profile_stack
    mean_p1, mean_p2 = p1.mean(), p2.mean()
    out += [
        pz.mean(),
        pz.max(),
        np.log(mean_p1 + 0.3),
        np.log(mean_p2 + 0.3) - np.log(mean_p1 + 0.3),
        np.log(p2.min() + 0.3) - np.log(mean_p2 + 0.3),
    ]
    return np.asarray(out, dtype=np.float64)


def grey_views(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grey arrays (sum of R, G, B: exact in float32) for both directions, strided like the ONNX graph.

    Returns:
        ``(rows, cols)``: ``rows`` keeps every s-th row (for column profiles),
        ``cols`` every s-th column, transposed (for row profiles).
    """
    h, w = image.shape[:2]
    # A sum of three 8-bit values is an exact integer in float32, so equal pixels
    # give exactly zero differences here and in the ONNX graph alike.
    x = image.astype(np.float32)
    rows = x[:: line_stride(h)].sum(axis=2)
    cols = x[:, :: line_stride(w)].sum(axis=2).T
    return rows.astype(np.float64), cols.astype(np.float64)


def extract_features(image: np.ndarray) -> np.ndarray:
    """The detector's 34 features of an ``HxWx3`` uint8 image (x direction first, then y)."""
    check_image(image)
    feats = []
    for grey in grey_views(image):
        prof = profiles(grey)
        feats.append(direction_features(prof, modulation_spectrum(prof)))
    return np.concatenate(feats)
