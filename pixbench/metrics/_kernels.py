"""Compiled kernels: the fused SSIM pass, and single-pass sums for PSNR and PSNR-B.

Every kernel reads the caller's ``HxWxC`` arrays as they are (``uint8`` or
``float64``), so no full-size float copy of an image is ever made.

Parallel work is cut into jobs that depend only on the image size, never on the
number of threads; each job writes its partial sum to its own slot and the slots
are added in job order. The result is therefore bit-identical whatever the thread
count or the order in which threads pick up jobs.

The SSIM kernel is written for the 11-tap window of Wang et al. (the radius is a
compile-time constant so both filter passes are straight-line code that the
compiler vectorises). It walks the image one output row at a time, keeping the
per-row products of the last 11 input rows in a ring, so the work stays in the
CPU caches. Only the "valid" part of the SSIM map is computed: it is exactly the
part scikit-image keeps after cropping 5 pixels from each side, so no padding rule
is involved.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Window length of the SSIM kernel (an 11x11 Gaussian, radius 5).
SSIM_TAPS = 11


@njit(inline="always")
def _row_products(x, y, r, ch, shift, ring, base):  # pragma: no cover - compiled
    """Products of input row ``r`` into ring rows ``base .. base + 3``.

    The SSIM map needs only the sum of the two variances, so ``x^2`` and ``y^2``
    share one filtered moment: the four moments are x, y, x^2 + y^2 and x*y.
    """
    for j in range(x.shape[1]):
        a = x[r, j, ch] - shift
        b = y[r, j, ch] - shift
        ring[base, j] = a
        ring[base + 1, j] = b
        ring[base + 2, j] = a * a + b * b
        ring[base + 3, j] = a * b


@njit(parallel=True, fastmath={"contract", "reassoc"}, cache=True)
def ssim_sums(x, y, g, c1, c2, shift, rows_per_job):  # pragma: no cover - compiled
    """Sum of the valid SSIM map of each ``(row band, channel)`` job.

    Args:
        x: ``(H, W, C)`` reference, ``uint8`` or ``float64``.
        y: ``(H, W, C)`` test image, same dtype.
        g: 1-D normalised Gaussian window of length 11 (symmetric).
        c1: ``(K1 * data_range) ** 2``.
        c2: ``(K2 * data_range) ** 2``.
        shift: Constant subtracted from both images; the luminance term adds it back.
            Centring keeps ``E[x^2] - E[x]^2`` well conditioned.
        rows_per_job: Output rows per job (the unit of parallel work).

    Returns:
        float64 array of partial sums, one per job, in a fixed order.
    """
    h, w, n_ch = x.shape
    h_out = h - 10
    w_out = w - 10
    n_bands = (h_out + rows_per_job - 1) // rows_per_job
    out = np.zeros(n_bands * n_ch)
    # The window is symmetric: g[k] == g[10 - k], so each pass pairs taps.
    g0, g1, g2, g3, g4, g5 = g[0], g[1], g[2], g[3], g[4], g[5]
    for job in prange(n_bands * n_ch):
        ch = job % n_ch
        r0 = (job // n_ch) * rows_per_job
        r1 = min(h_out, r0 + rows_per_job)
        ring = np.empty((4 * SSIM_TAPS, w))
        vert = np.empty((4, w))
        for r in range(r0, r0 + 10):
            _row_products(x, y, r, ch, shift, ring, 4 * (r % 11))
        acc = 0.0
        for i in range(r0, r1):
            _row_products(x, y, i + 10, ch, shift, ring, 4 * ((i + 10) % 11))
            # Ring offsets of input rows i .. i + 10.
            b0 = 4 * (i % 11)
            b1 = 4 * ((i + 1) % 11)
            b2 = 4 * ((i + 2) % 11)
            b3 = 4 * ((i + 3) % 11)
            b4 = 4 * ((i + 4) % 11)
            b5 = 4 * ((i + 5) % 11)
            b6 = 4 * ((i + 6) % 11)
            b7 = 4 * ((i + 7) % 11)
            b8 = 4 * ((i + 8) % 11)
            b9 = 4 * ((i + 9) % 11)
            b10 = 4 * ((i + 10) % 11)
            for m in range(4):
                for j in range(w):
                    vert[m, j] = (g5 * ring[b5 + m, j] + g4 * (ring[b4 + m, j] + ring[b6 + m, j])
                                  + g3 * (ring[b3 + m, j] + ring[b7 + m, j])
                                  + g2 * (ring[b2 + m, j] + ring[b8 + m, j])
                                  + g1 * (ring[b1 + m, j] + ring[b9 + m, j])
                                  + g0 * (ring[b0 + m, j] + ring[b10 + m, j]))
            row_sum = 0.0
            for j in range(w_out):
                ux = _hpass(vert, 0, j, g0, g1, g2, g3, g4, g5)
                uy = _hpass(vert, 1, j, g0, g1, g2, g3, g4, g5)
                sq = _hpass(vert, 2, j, g0, g1, g2, g3, g4, g5)
                xy = _hpass(vert, 3, j, g0, g1, g2, g3, g4, g5)
                var_sum = sq - ux * ux - uy * uy
                cov = xy - ux * uy
                mx = ux + shift
                my = uy + shift
                num = (2 * mx * my + c1) * (2 * cov + c2)
                den = (mx * mx + my * my + c1) * (var_sum + c2)
                row_sum += num / den
            acc += row_sum
        out[job] = acc
    return out


@njit(inline="always")
def _hpass(v, m, j, g0, g1, g2, g3, g4, g5):  # pragma: no cover - compiled
    """Horizontal 11-tap filter of moment ``m`` at output column ``j`` (input columns j .. j + 10)."""
    return (g5 * v[m, j + 5] + g4 * (v[m, j + 4] + v[m, j + 6]) + g3 * (v[m, j + 3] + v[m, j + 7])
            + g2 * (v[m, j + 2] + v[m, j + 8]) + g1 * (v[m, j + 1] + v[m, j + 9])
            + g0 * (v[m, j] + v[m, j + 10]))


@njit(parallel=True, fastmath={"reassoc", "contract"}, cache=True)
def squared_error_sum_u8(a, b):  # pragma: no cover - compiled
    """Exact sum of squared differences of two equally shaped uint8 arrays (flattened).

    The sum is taken in float64, which vectorises well: every term and every partial
    sum is an integer below 2^53 (up to 2^37 pixels), so it is exact in any order.
    """
    fa = a.reshape(-1)
    fb = b.reshape(-1)
    n = fa.shape[0]
    step = 1 << 16
    n_chunks = (n + step - 1) // step
    parts = np.zeros(n_chunks)
    for c in prange(n_chunks):
        parts[c] = _squared_error_range(fa, fb, c * step, min(n, (c + 1) * step))
    return parts.sum()


@njit(fastmath={"reassoc", "contract"}, cache=True)
def _squared_error_range(fa, fb, lo, hi):  # pragma: no cover - compiled
    # A plain function, not inlined into the parallel loop: there it does not vectorise.
    acc = 0.0
    for i in range(lo, hi):
        d = np.float64(fa[i]) - np.float64(fb[i])
        acc += d * d
    return acc


@njit(parallel=True, cache=True)
def luma(image, weights, offset):  # pragma: no cover - compiled
    """``HxWx3`` -> ``HxW`` float64: ``offset + sum_c weights[c] * image[..., c]``."""
    h, w, _ = image.shape
    out = np.empty((h, w))
    for i in prange(h):
        for j in range(w):
            out[i, j] = offset + weights[0] * image[i, j, 0] + weights[1] * image[i, j, 1] + weights[2] * image[i, j, 2]
    return out


@njit(inline="always")
def _plane_row(image, i, weights, offset, dst):  # pragma: no cover - compiled
    """Row ``i`` of the plane ``offset + sum_c weights[c] * image[..., c]`` into ``dst``."""
    if image.shape[2] == 3:
        # Written out for RGB so that the loop vectorises; same order of operations as ``luma``.
        w0, w1, w2 = weights[0], weights[1], weights[2]
        for j in range(image.shape[1]):
            dst[j] = offset + w0 * image[i, j, 0] + w1 * image[i, j, 1] + w2 * image[i, j, 2]
    else:
        for j in range(image.shape[1]):
            v = offset
            for c in range(image.shape[2]):
                v += weights[c] * image[i, j, c]
            dst[j] = v


@njit(parallel=True, cache=True)
def block_sums(ref, test, weights, offset, block, rows_per_job):  # pragma: no cover - compiled
    """One pass over a pair for PSNR-B: the squared error and the test plane's neighbour sums.

    Both images are reduced to one plane, ``offset + sum_c weights[c] * image[..., c]``
    (BT.601 luma, or one channel with one-hot weights), row by row without storing it.

    Returns:
        ``(squared error, sum across block boundaries, sum of the other neighbour
        pairs)``; a pair ``(j - 1, j)`` crosses a boundary when ``j % block == 0``.
    """
    h, w, _ = ref.shape
    n_jobs = (h + rows_per_job - 1) // rows_per_job
    parts = np.zeros((n_jobs, 3))
    for job in prange(n_jobs):
        r0 = job * rows_per_job
        r1 = min(h, r0 + rows_per_job)
        prev = np.empty(w)
        cur = np.empty(w)
        ref_row = np.empty(w)
        if r0 > 0:
            _plane_row(test, r0 - 1, weights, offset, prev)
        sse = 0.0
        cross = 0.0
        inner = 0.0
        for i in range(r0, r1):
            _plane_row(test, i, weights, offset, cur)
            _plane_row(ref, i, weights, offset, ref_row)
            for j in range(w):
                d = ref_row[j] - cur[j]
                sse += d * d
            # All horizontal pairs, then the boundary ones on their own (no branch per pixel).
            every = 0.0
            for j in range(1, w):
                d = cur[j] - cur[j - 1]
                every += d * d
            c = 0.0
            for j in range(block, w, block):
                d = cur[j] - cur[j - 1]
                c += d * d
            s = every - c
            if i > 0:
                vert = 0.0
                for j in range(w):
                    d = cur[j] - prev[j]
                    vert += d * d
                if i % block == 0:
                    c += vert
                else:
                    s += vert
            cross += c
            inner += s
            prev, cur = cur, prev
        parts[job, 0] = sse
        parts[job, 1] = cross
        parts[job, 2] = inner
    total = np.zeros(3)
    for job in range(n_jobs):
        total += parts[job]
    return total[0], total[1], total[2]
