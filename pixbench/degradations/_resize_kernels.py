"""Compiled passes of :func:`pixbench.degradations.resize.imresize`: one dimension at a time.

A pass applies a weight table ``weights[o, t]`` and an index table ``indices[o, t]``
(``(out, taps)``, built by :mod:`pixbench.degradations.resize`) along one axis of a
``uint8`` image: output ``o`` is ``sum_t weights[o, t] * input[indices[o, t]]``,
accumulated in float64 in tap order, then rounded half away from zero and clipped to
``uint8`` (as MATLAB's ``imresize`` stores each pass of a ``uint8`` image).

The row pass (along axis 0) reads whole input rows, so its inner loop runs over
contiguous pixels and vectorises. The column pass (along axis 1) would gather single
pixels; instead it copies a band of rows transposed into a float64 buffer, so that
each input column is one contiguous vector of the band's pixels, and runs the same
vectorised loop over that buffer.

Both passes cut the output into jobs of whole rows and run them on the job runner of
:mod:`pixbench.threads`. Every output value is computed by the same operations in the
same order whatever the job cut, so results are bit-identical whatever the thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pixbench.threads import run_jobs

#: Columns of the row pass handled at once: the float64 accumulator (16 KiB) stays in the L1 cache.
CHUNK = 2048
#: Rows the column pass transposes into its buffer at once.
BAND = 16
#: Output values per job at least: handing a job to another thread costs tens of microseconds.
MIN_JOB = 1 << 18


@njit(inline="always")
def _to_uint8(v):  # pragma: no cover - compiled
    # Round half away from zero for v >= 0, clip to [0, 255]; branch-free so the loop vectorises.
    return np.uint8(min(max(v + 0.5, 0.0), 255.0))


@njit(inline="always")
def _weighted_sum(acc, m, weights, indices, o, rows, col0):  # pragma: no cover - compiled
    """``acc[:m] = sum_t weights[o, t] * rows[indices[o, t], col0 : col0 + m]``, taps in order."""
    # Slices, not offsets into whole rows: with offsets the loops were not vectorised (4x slower).
    w = weights[o, 0]
    s = rows[indices[o, 0], col0 : col0 + m]
    for q in range(m):
        acc[q] = w * s[q]
    for t in range(1, weights.shape[1]):
        w = weights[o, t]
        s = rows[indices[o, t], col0 : col0 + m]
        for q in range(m):
            acc[q] += w * s[q]


@njit(nogil=True, cache=True)
def _rows_job(src, weights, indices, dst, o0, o1):  # pragma: no cover - compiled
    """Output rows ``o0 .. o1 - 1`` of the pass along axis 0; ``src`` and ``dst`` are ``(rows, values)``."""
    n = src.shape[1]
    acc = np.empty(min(n, CHUNK))
    for q0 in range(0, n, CHUNK):
        m = min(CHUNK, n - q0)
        for o in range(o0, o1):
            _weighted_sum(acc, m, weights, indices, o, src, q0)
            d = dst[o, q0 : q0 + m]
            for q in range(m):
                d[q] = _to_uint8(acc[q])


@njit(inline="always")
def _load_band(src, b0, rows, band):  # pragma: no cover - compiled
    """Rows ``b0 .. b0 + rows - 1`` of ``src`` (``(H, W, C)``) into ``band[x, r * C + k]`` as float64."""
    c = src.shape[2]
    for r in range(rows):
        s = src[b0 + r]
        for x in range(src.shape[1]):
            for k in range(c):
                band[x, r * c + k] = s[x, k]


@njit(inline="always")
def _store_band(out, dst, b0, rows):  # pragma: no cover - compiled
    """``out[o, r * C + k]`` back into ``dst[b0 + r, o, k]``."""
    n_out, c = dst.shape[1], dst.shape[2]
    flat = dst[b0 : b0 + rows].reshape(rows, n_out * c)
    if c == 3:  # the common case with constant offsets: about 1.4x faster than the general loop
        for r in range(rows):
            d = flat[r]
            col = out[:, 3 * r : 3 * r + 3]
            for o in range(n_out):
                d[3 * o] = col[o, 0]
                d[3 * o + 1] = col[o, 1]
                d[3 * o + 2] = col[o, 2]
    else:
        for r in range(rows):
            for o in range(n_out):
                for k in range(c):
                    flat[r, o * c + k] = out[o, r * c + k]


@njit(nogil=True, cache=True)
def _cols_job(src, weights, indices, dst, r0, r1):  # pragma: no cover - compiled
    """Rows ``r0 .. r1 - 1`` of the pass along axis 1; ``src`` is ``(H, W, C)``, ``dst`` ``(H, out, C)``."""
    c = src.shape[2]
    n_out = weights.shape[0]
    band = np.empty((src.shape[1], BAND * c))
    acc = np.empty(BAND * c)
    out = np.empty((n_out, BAND * c), np.uint8)
    for b0 in range(r0, r1, BAND):
        rows = min(BAND, r1 - b0)
        m = rows * c
        _load_band(src, b0, rows, band)
        for o in range(n_out):
            _weighted_sum(acc, m, weights, indices, o, band, 0)
            d = out[o]
            for q in range(m):
                d[q] = _to_uint8(acc[q])
        _store_band(out, dst, b0, rows)


def _jobs(n_rows: int, values_per_row: int, multiple: int) -> tuple[int, int]:
    """``(rows per job, number of jobs)``: at least :data:`MIN_JOB` values a job, a multiple of ``multiple`` rows."""
    per_job = max(1, math.ceil(MIN_JOB / max(1, values_per_row)))
    per_job = multiple * math.ceil(per_job / multiple)
    return per_job, math.ceil(n_rows / per_job)


def resize_rows(image: np.ndarray, weights: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Apply a ``(out, taps)`` table along axis 0 of a C-contiguous ``(H, W, C)`` ``uint8`` image."""
    h, w, c = image.shape
    n_out = weights.shape[0]
    dst = np.empty((n_out, w, c), np.uint8)
    src2, dst2 = image.reshape(h, w * c), dst.reshape(n_out, w * c)
    per_job, n_jobs = _jobs(n_out, w * c, 1)
    run_jobs(lambda j: _rows_job(src2, weights, indices, dst2, j * per_job, min(n_out, (j + 1) * per_job)), n_jobs)
    return dst


def resize_cols(image: np.ndarray, weights: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Apply a ``(out, taps)`` table along axis 1 of a C-contiguous ``(H, W, C)`` ``uint8`` image."""
    h, _, c = image.shape
    n_out = weights.shape[0]
    dst = np.empty((h, n_out, c), np.uint8)
    per_job, n_jobs = _jobs(h, n_out * c, BAND)
    run_jobs(lambda j: _cols_job(image, weights, indices, dst, j * per_job, min(h, (j + 1) * per_job)), n_jobs)
    return dst
