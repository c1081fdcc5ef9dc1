"""Grid estimation: block factor, phase and upscale kernel family of a pixelated image.

Replicating (nearest) upscales are read exactly: a column boundary is wherever
any row changes value, so the block starts are known pixel for pixel (including
non-integer factors, whose blocks alternate between two widths). Interpolating
upscales are read from the spectrum of the second-difference profile: the
period with the strongest harmonic comb (Kirchner 2008), and the phase from the
argument of its fundamental.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pixbench.degradations.pixelate import upscale
from pixbench.forensics import features as F
from pixbench.forensics.detector import PARAMS_PATH, DetectorParams

#: Fraction of all-zero difference columns above which the upscale is called replicating.
REPLICATING_MIN_ZERO = 0.3
#: Candidate periods for interpolating upscales.
PERIODS = np.arange(2.0, 20.0, 0.01)


@dataclass
class AxisGrid:
    """The grid along one axis: ``starts`` are the first pixel of every block."""

    factor: float
    phase: float
    replicating: bool
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class GridEstimate:
    """Per-image estimate: detector probability plus the grid along x and y."""

    probability: float
    x: AxisGrid
    y: AxisGrid

    @property
    def pixelated(self) -> bool:
        return self.probability >= 0.5

    @property
    def kernel_family(self) -> str:
        """``replicating`` (nearest-like) or ``interpolating`` (bilinear, bicubic, lanczos, ...)."""
        return "replicating" if self.x.replicating and self.y.replicating else "interpolating"

    @property
    def factor(self) -> float:
        return float((self.x.factor + self.y.factor) / 2)


def _replicating_axis(changed: np.ndarray) -> AxisGrid | None:
    """Grid from ``changed[x]`` = some line differs between pixel x and x+1, or None if not replicating."""
    n = changed.size + 1
    if (~changed).mean() < REPLICATING_MIN_ZERO or changed.sum() < 2:
        return None
    starts = np.flatnonzero(changed) + 1
    widths = np.diff(starts)
    base = float(np.median(widths))
    # A boundary between two blocks of identical colour is invisible; such gaps
    # are whole multiples of the block width and are counted as several blocks.
    multiples = np.maximum(np.round(widths / base), 1)
    factor = float(widths.sum() / multiples.sum())
    starts = _fill_missing(starts, widths, multiples)
    phase = float(starts[0] % factor)
    full = np.concatenate([[0], starts]) if starts[0] != 0 else starts
    return AxisGrid(factor=factor, phase=phase, replicating=True, starts=full[full < n])


def _fill_missing(starts: np.ndarray, widths: np.ndarray, multiples: np.ndarray) -> np.ndarray:
    out = [int(starts[0])]
    for prev, w, k in zip(starts[:-1], widths, multiples.astype(int), strict=True):
        out += [int(prev + round(j * w / k)) for j in range(1, k)]
        out.append(int(prev + w))
    return np.asarray(out, dtype=np.int64)


def _spectrum(profile: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Relative modulation ``|DFT(q)(nu)| / n`` of a profile at arbitrary frequencies."""
    n = profile.size
    q = (profile - profile.mean()) / (profile.mean() + F.PROFILE_OFFSETS[2])
    return np.abs(np.exp(-2j * np.pi * np.outer(freqs, np.arange(n))) @ q) / n


def _harmonics(period: float) -> np.ndarray:
    return np.arange(1, max(int(period // 2), 1) + 1) / period


def _interpolating_axis(p2: np.ndarray) -> AxisGrid:
    # Score every period by the mean modulation over all its harmonics below
    # Nyquist: a multiple of the true period is diluted by its off-comb
    # harmonics, so the best score sits on the true period or on a divisor of it.
    freqs = np.arange(1, 2 * p2.size) / (2 * p2.size) / 2 + 1e-9
    floor = float(np.median(_spectrum(p2, freqs)))
    scores = np.array([_spectrum(p2, _harmonics(p)).mean() for p in PERIODS])
    period = float(PERIODS[int(np.argmax(scores))])
    # A divisor of the true period shows only its even harmonics; accept a
    # multiple when the harmonics it adds stand well above the noise floor.
    for m in (3, 2):
        longer = period * m
        if longer > PERIODS[-1]:
            continue
        extra = _spectrum(p2, np.array([k / longer for k in range(1, int(longer // 2) + 1) if k % m]))
        if extra.size and np.median(extra) > 4 * floor:
            period = longer
            break
    q = p2 - p2.mean()
    coef = np.sum(q * np.exp(-2j * np.pi * np.arange(q.size) / period))
    # p2[x] is centred on pixel x + 1; its peaks sit on the low-res sample centres,
    # half a block after each block start.
    centre = (-np.angle(coef) / (2 * np.pi) * period + 1.0) % period
    phase = float((centre - period / 2 + 0.5) % period)
    return AxisGrid(factor=period, phase=phase, replicating=False)


def estimate_axis(grey: np.ndarray) -> AxisGrid:
    """Grid along axis 1 of a ``(lines, length)`` grey array."""
    d1 = np.diff(grey, axis=1)
    replicating = _replicating_axis(np.any(d1 != 0, axis=0))
    if replicating is not None:
        return replicating
    p2 = np.abs(np.diff(d1, axis=1)).mean(axis=0)
    return _interpolating_axis(p2)


def estimate_grid(image: np.ndarray, *, probability: float | None = None) -> GridEstimate:
    """Estimate whether ``image`` is pixelated, and its block factor, phase and kernel family.

    Args:
        image: ``HxWx3 uint8``.
        probability: The detector's probability if already computed; otherwise
            the shipped detector parameters are used.
    """
    F.check_image(image)
    if probability is None:
        probability = float(DetectorParams.load(PARAMS_PATH).probability(F.extract_features(image))[0])
    grey = image.astype(np.float32).sum(axis=2)
    return GridEstimate(probability=probability, x=estimate_axis(grey), y=estimate_axis(grey.T))


def block_starts(axis: AxisGrid, length: int) -> np.ndarray:
    """First pixel of every block along an axis of ``length`` pixels (block 0 starts at 0)."""
    if axis.replicating and axis.starts.size:
        return axis.starts
    first = axis.phase if axis.phase > 0.5 else axis.phase + axis.factor
    starts = np.round(np.arange(first, length, axis.factor)).astype(np.int64)
    return np.unique(np.concatenate([[0], starts[starts < length]]))


def recover_lowres(image: np.ndarray, grid: GridEstimate) -> np.ndarray:
    """The low-resolution grid behind a pixelated image.

    For replicating upscales every block is constant and one pixel per block is
    taken: this is exact. For interpolating ones each block is averaged (a box
    downscale by the estimated factor), which undoes most of the interpolation
    when the factor is right; the phase is not used there.
    """
    F.check_image(image)
    h, w = image.shape[:2]
    if not grid.kernel_family == "replicating":
        # ``upscale`` is degradations' plain resize to any (H, W): here it shrinks
        size = (max(1, round(h / grid.y.factor)), max(1, round(w / grid.x.factor)))
        return upscale(image, size=size, kernel="box")
    ys, xs = block_starts(grid.y, h), block_starts(grid.x, w)
    cy = (ys + np.append(ys[1:], h) - 1) // 2
    cx = (xs + np.append(xs[1:], w) - 1) // 2
    return np.ascontiguousarray(image[cy][:, cx])
