"""Compiled kernels: the fused SSIM pass, and single-pass sums for PSNR and PSNR-B.

The SSIM kernel computes Gaussian moments, the SSIM map and its sum in one pass.

A plain numpy version needs five full-size filtered maps per channel and a dozen
full-size temporaries, which makes it memory-bound (about as slow as scikit-image).
This kernel walks the image one output row at a time, keeping everything it touches
in a ring of ``K`` rows (products computed once per input row) plus four row buffers,
so the work stays in the CPU caches. Only the "valid" part of the SSIM map is
computed: it is exactly the part scikit-image keeps after cropping ``(K - 1) // 2``
pixels from each side, so no padding rule is involved.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, fastmath={"contract", "reassoc"}, cache=True)
def ssim_sums(x, y, g, c1, c2, shift, n_strips):  # pragma: no cover - compiled
    """Sum of the valid SSIM map of each ``(channel, strip)`` job.

    Args:
        x: ``(C, H, W)`` float64 reference, already shifted by ``-shift``.
        y: ``(C, H, W)`` test image, same dtype and shift.
        g: 1-D normalised Gaussian window of odd length ``K``.
        c1: ``(K1 * data_range) ** 2``.
        c2: ``(K2 * data_range) ** 2``.
        shift: Constant subtracted from both images; the luminance term adds it back.
            Centring keeps ``E[x^2] - E[x]^2`` well conditioned.
        n_strips: Number of row strips per channel (the unit of parallel work).

    Returns:
        float64 array of ``C * n_strips`` partial sums, in a fixed order.
    """
    n_ch, h, w = x.shape
    k_len = g.shape[0]
    h_out = h - k_len + 1
    w_out = w - k_len + 1
    out = np.zeros(n_ch * n_strips)
    rows_per = (h_out + n_strips - 1) // n_strips
    for job in prange(n_ch * n_strips):
        ch = job // n_strips
        r0 = (job % n_strips) * rows_per
        r1 = min(h_out, r0 + rows_per)
        if r0 >= r1:
            continue
        # Ring of per-row products: x, y, x^2 + y^2, x*y (the SSIM map needs only
        # the sum of the two variances, so x^2 and y^2 share one filtered map).
        ring = np.empty((k_len, 4, w), x.dtype)
        vert = np.empty((4, w), x.dtype)
        hor = np.empty((4, w_out), x.dtype)
        for r in range(r0, r0 + k_len - 1):
            _row_products(x[ch, r], y[ch, r], ring[r % k_len])
        acc = 0.0
        for i in range(r0, r1):
            _row_products(x[ch, i + k_len - 1], y[ch, i + k_len - 1], ring[(i + k_len - 1) % k_len])
            # Vertical pass: vert = sum_k g[k] * row(i + k).
            wk = g[0]
            first = ring[i % k_len]
            for m in range(4):
                for j in range(w):
                    vert[m, j] = wk * first[m, j]
            for k in range(1, k_len):
                wk = g[k]
                row = ring[(i + k) % k_len]
                for m in range(4):
                    for j in range(w):
                        vert[m, j] += wk * row[m, j]
            # Horizontal pass on the valid columns.
            for m in range(4):
                wk = g[0]
                for j in range(w_out):
                    hor[m, j] = wk * vert[m, j]
                for k in range(1, k_len):
                    wk = g[k]
                    for j in range(w_out):
                        hor[m, j] += wk * vert[m, j + k]
            row_sum = 0.0
            for j in range(w_out):
                ux = hor[0, j]
                uy = hor[1, j]
                var_sum = hor[2, j] - ux * ux - uy * uy
                cov = hor[3, j] - ux * uy
                mx = ux + shift
                my = uy + shift
                num = (2 * mx * my + c1) * (2 * cov + c2)
                den = (mx * mx + my * my + c1) * (var_sum + c2)
                row_sum += num / den
            acc += row_sum
        out[job] = acc
    return out


@njit(fastmath={"contract", "reassoc"}, cache=True)
def _row_products(xr, yr, dst):  # pragma: no cover - compiled
    for j in range(xr.shape[0]):
        a = xr[j]
        b = yr[j]
        dst[0, j] = a
        dst[1, j] = b
        dst[2, j] = a * a + b * b
        dst[3, j] = a * b


@njit(parallel=True, cache=True)
def squared_error_sum_u8(a, b):  # pragma: no cover - compiled
    """Exact sum of squared differences of two equally shaped uint8 arrays (flattened)."""
    fa = a.reshape(-1)
    fb = b.reshape(-1)
    n = fa.shape[0]
    n_chunks = 64
    parts = np.zeros(n_chunks, np.int64)
    step = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        acc = 0
        for i in range(c * step, min(n, (c + 1) * step)):
            d = np.int64(fa[i]) - np.int64(fb[i])
            acc += d * d
        parts[c] = acc
    return parts.sum()


@njit(parallel=True, cache=True)
def luma(image, weights, offset):  # pragma: no cover - compiled
    """``HxWx3`` -> ``HxW`` float64: ``offset + sum_c weights[c] * image[..., c]``."""
    h, w, _ = image.shape
    out = np.empty((h, w))
    for i in prange(h):
        for j in range(w):
            out[i, j] = offset + weights[0] * image[i, j, 0] + weights[1] * image[i, j, 1] + weights[2] * image[i, j, 2]
    return out


@njit(parallel=True, cache=True)
def neighbour_sums(plane, block):  # pragma: no cover - compiled
    """Squared differences of horizontal and vertical neighbours, split by block boundaries.

    Returns ``(sum across boundaries, sum of the other pairs)``; a pair ``(j - 1, j)``
    crosses a boundary when ``j % block == 0``.
    """
    h, w = plane.shape
    cross = np.zeros(h)
    inner = np.zeros(h)
    for i in prange(h):
        c = 0.0
        s = 0.0
        for j in range(1, w):
            d = plane[i, j] - plane[i, j - 1]
            if j % block == 0:
                c += d * d
            else:
                s += d * d
        if i > 0:
            vert = 0.0
            for j in range(w):
                d = plane[i, j] - plane[i - 1, j]
                vert += d * d
            if i % block == 0:
                c += vert
            else:
                s += vert
        cross[i] = c
        inner[i] = s
    return cross.sum(), inner.sum()
