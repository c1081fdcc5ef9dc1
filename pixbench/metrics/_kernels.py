"""The fused SSIM kernel: Gaussian moments, SSIM map and its sum in one pass.

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
        x: ``(C, H, W)`` reference, float32 or float64, already shifted by ``-shift``.
        y: ``(C, H, W)`` test image, same dtype and shift.
        g: 1-D normalised Gaussian window of odd length ``K``.
        c1: ``(K1 * data_range) ** 2``.
        c2: ``(K2 * data_range) ** 2``.
        shift: Constant subtracted from both images; the luminance term adds it back.
            Centring keeps ``E[x^2] - E[x]^2`` well conditioned in float32.
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
