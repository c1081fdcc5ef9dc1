"""Compiled kernels: the fused SSIM pass, and single-pass sums for PSNR and PSNR-B.

Every kernel reads the caller's ``HxWxC`` arrays as they are (``uint8`` or
``float64``), so no full-size float copy of an image is ever made.

Each kernel computes one job (a band of rows, for SSIM also a tile of columns) and
releases the GIL; :func:`pixbench.threads.run_jobs` runs the jobs on several
threads and returns their partial sums in job order. Jobs depend only on the image
size, never on the number of threads, so results are bit-identical whatever the
thread count or the order in which threads pick up jobs.

The SSIM kernel is written for the 11-tap window of Wang et al. (the radius is a
compile-time constant so both filter passes are straight-line code that the
compiler vectorises). It walks its tile one output row at a time, keeping the
per-row products of the last 12 input rows in a ring, so the work stays in the
CPU caches. Only the "valid" part of the SSIM map is computed: it is exactly the
part scikit-image keeps after cropping 5 pixels from each side, so no padding rule
is involved.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(inline="always", fastmath={"contract", "reassoc"})
def _row_products(x, y, r, c0, n, shift, ring, base):  # pragma: no cover - compiled
    """Products of ``n`` values of input row ``r`` from flat column ``c0`` into ring rows ``base .. base + 3``.

    The SSIM map needs only the sum of the two variances, so ``x^2`` and ``y^2``
    share one filtered moment: the four moments are x, y, x^2 + y^2 and x*y.
    """
    # 1-D views with unit stride, so the loop vectorises.
    xr = x[r, c0 : c0 + n]
    yr = y[r, c0 : c0 + n]
    d0 = ring[base]
    d1 = ring[base + 1]
    d2 = ring[base + 2]
    d3 = ring[base + 3]
    for q in range(n):
        a = xr[q] - shift
        b = yr[q] - shift
        d0[q] = a
        d1[q] = b
        d2[q] = a * a + b * b
        d3[q] = a * b


@njit(inline="always", fastmath={"contract", "reassoc"})
def _vertical_pair(ring, i, va, vb, n, g0, g1, g2, g3, g4, g5):  # pragma: no cover - compiled
    """Vertical 11-tap filter of the four moments for output rows ``i`` and ``i + 1`` (ring of 12 rows)."""
    for m in range(4):
        # Ring rows of input rows i .. i + 11, hoisted out of the inner loop.
        t0 = ring[4 * (i % 12) + m]
        t1 = ring[4 * ((i + 1) % 12) + m]
        t2 = ring[4 * ((i + 2) % 12) + m]
        t3 = ring[4 * ((i + 3) % 12) + m]
        t4 = ring[4 * ((i + 4) % 12) + m]
        t5 = ring[4 * ((i + 5) % 12) + m]
        t6 = ring[4 * ((i + 6) % 12) + m]
        t7 = ring[4 * ((i + 7) % 12) + m]
        t8 = ring[4 * ((i + 8) % 12) + m]
        t9 = ring[4 * ((i + 9) % 12) + m]
        t10 = ring[4 * ((i + 10) % 12) + m]
        t11 = ring[4 * ((i + 11) % 12) + m]
        a = va[m]
        b = vb[m]
        for q in range(n):
            u1 = t1[q]
            u2 = t2[q]
            u3 = t3[q]
            u4 = t4[q]
            u5 = t5[q]
            u6 = t6[q]
            u7 = t7[q]
            u8 = t8[q]
            u9 = t9[q]
            u10 = t10[q]
            a[q] = g5 * u5 + g4 * (u4 + u6) + g3 * (u3 + u7) + g2 * (u2 + u8) + g1 * (u1 + u9) + g0 * (t0[q] + u10)
            b[q] = g5 * u6 + g4 * (u5 + u7) + g3 * (u4 + u8) + g2 * (u3 + u9) + g1 * (u2 + u10) + g0 * (u1 + t11[q])


def _make_row_ssim(s: int):
    """The SSIM row sum for pixels ``s`` values apart (``s`` channels), ``s`` fixed at compile time.

    With literal offsets the eleven loads of each moment are fixed distances apart,
    which the compiler turns into plain vector loads.
    """
    o1, o2, o3, o4, o5, o6, o7, o8, o9, o10 = (k * s for k in range(1, 11))

    @njit(inline="always", fastmath={"contract", "reassoc"}, error_model="numpy")
    def row_ssim(v, n_out, g0, g1, g2, g3, g4, g5, shift, c1, c2):  # pragma: no cover - compiled
        row_sum = 0.0
        for q in range(n_out):
            ux = (
                g5 * v[0, q + o5]
                + g4 * (v[0, q + o4] + v[0, q + o6])
                + g3 * (v[0, q + o3] + v[0, q + o7])
                + g2 * (v[0, q + o2] + v[0, q + o8])
                + g1 * (v[0, q + o1] + v[0, q + o9])
                + g0 * (v[0, q] + v[0, q + o10])
            )
            uy = (
                g5 * v[1, q + o5]
                + g4 * (v[1, q + o4] + v[1, q + o6])
                + g3 * (v[1, q + o3] + v[1, q + o7])
                + g2 * (v[1, q + o2] + v[1, q + o8])
                + g1 * (v[1, q + o1] + v[1, q + o9])
                + g0 * (v[1, q] + v[1, q + o10])
            )
            sq = (
                g5 * v[2, q + o5]
                + g4 * (v[2, q + o4] + v[2, q + o6])
                + g3 * (v[2, q + o3] + v[2, q + o7])
                + g2 * (v[2, q + o2] + v[2, q + o8])
                + g1 * (v[2, q + o1] + v[2, q + o9])
                + g0 * (v[2, q] + v[2, q + o10])
            )
            xy = (
                g5 * v[3, q + o5]
                + g4 * (v[3, q + o4] + v[3, q + o6])
                + g3 * (v[3, q + o3] + v[3, q + o7])
                + g2 * (v[3, q + o2] + v[3, q + o8])
                + g1 * (v[3, q + o1] + v[3, q + o9])
                + g0 * (v[3, q] + v[3, q + o10])
            )
            var_sum = sq - ux * ux - uy * uy
            cov = xy - ux * uy
            mx = ux + shift
            my = uy + shift
            row_sum += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (var_sum + c2))
        return row_sum

    return row_ssim


_row_ssim_1 = _make_row_ssim(1)
_row_ssim_3 = _make_row_ssim(3)


@njit(inline="always", fastmath={"contract", "reassoc"})
def _row_ssim(v, n_out, s, g0, g1, g2, g3, g4, g5, shift, c1, c2):  # pragma: no cover - compiled
    """Sum of the SSIM map over one output row of a tile, from its vertically filtered moments ``v``.

    ``s`` is the distance between horizontally neighbouring pixels (the channel count, 1 or 3).
    """
    if s == 3:
        return _row_ssim_3(v, n_out, g0, g1, g2, g3, g4, g5, shift, c1, c2)
    return _row_ssim_1(v, n_out, g0, g1, g2, g3, g4, g5, shift, c1, c2)


# error_model="numpy": no zero check on the division (its denominator is at least
# c1 * c2 > 0), which would stop the SSIM loop from vectorising.
@njit(nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy", cache=True)
def ssim_job(x, y, n_ch, g, c1, c2, shift, r0, r1, p0, tile):  # pragma: no cover - compiled
    """Sum of the valid SSIM map over output rows ``r0 .. r1 - 1`` and output pixels ``p0 .. p0 + tile - 1``.

    The image is read as rows of interleaved channels (``H x (W * C)``): every loop
    then runs over consecutive memory, and a horizontal tap is ``C`` values away.

    Args:
        x: ``(H, W * C)`` reference, ``uint8`` or ``float64``.
        y: ``(H, W * C)`` test image, same dtype.
        n_ch: Number of interleaved channels ``C``.
        g: 1-D normalised Gaussian window of length 11 (symmetric).
        c1: ``(K1 * data_range) ** 2``.
        c2: ``(K2 * data_range) ** 2``.
        shift: Constant subtracted from both images; the luminance term adds it back.
            Centring keeps ``E[x^2] - E[x]^2`` well conditioned.
        r0: First output row.
        r1: End of the output rows (at most ``H - 10``).
        p0: First output pixel column.
        tile: Output pixel columns per job (fewer in the last); the job's ring stays in the L2 cache.
    """
    w_out = x.shape[1] // n_ch - 10
    # The window is symmetric: g[k] == g[10 - k], so each pass pairs taps.
    g0, g1, g2, g3, g4, g5 = g[0], g[1], g[2], g[3], g[4], g[5]
    c0 = p0 * n_ch
    n_out = min(tile, w_out - p0) * n_ch
    n_in = n_out + 10 * n_ch
    # Products of the last 12 input rows; two output rows are made per step, so
    # each ring value loaded by the vertical pass serves both.
    ring = np.empty((48, n_in))
    va = np.empty((4, n_in))
    vb = np.empty((4, n_in))
    for r in range(r0, r0 + 10):
        _row_products(x, y, r, c0, n_in, shift, ring, 4 * (r % 12))
    acc = 0.0
    i = r0
    while i < r1:
        _row_products(x, y, i + 10, c0, n_in, shift, ring, 4 * ((i + 10) % 12))
        if i + 1 < r1:
            _row_products(x, y, i + 11, c0, n_in, shift, ring, 4 * ((i + 11) % 12))
            _vertical_pair(ring, i, va, vb, n_in, g0, g1, g2, g3, g4, g5)
            acc += _row_ssim(va, n_out, n_ch, g0, g1, g2, g3, g4, g5, shift, c1, c2)
            acc += _row_ssim(vb, n_out, n_ch, g0, g1, g2, g3, g4, g5, shift, c1, c2)
        else:
            # Last row of an odd band: the pair's second row (input row i + 11) is not
            # needed, but the pass reads its ring slot, so fill it with any finite values.
            _row_products(x, y, i + 10, c0, n_in, shift, ring, 4 * ((i + 11) % 12))
            _vertical_pair(ring, i, va, vb, n_in, g0, g1, g2, g3, g4, g5)
            acc += _row_ssim(va, n_out, n_ch, g0, g1, g2, g3, g4, g5, shift, c1, c2)
        i += 2
    return acc


@njit(nogil=True, fastmath={"reassoc", "contract"}, cache=True)
def squared_error_job(fa, fb, lo, hi):  # pragma: no cover - compiled
    """Sum of squared differences of flat arrays ``fa`` and ``fb`` over ``lo .. hi - 1``.

    Taken in float64, which vectorises well; for ``uint8`` input every term and every
    partial sum is an integer below 2^53, so the sum is exact in any order.
    """
    acc = 0.0
    for i in range(lo, hi):
        d = np.float64(fa[i]) - np.float64(fb[i])
        acc += d * d
    return acc


@njit(nogil=True, cache=True)
def luma(image, weights, offset):  # pragma: no cover - compiled
    """``HxWx3`` -> ``HxW`` float64: ``offset + sum_c weights[c] * image[..., c]``."""
    h, w, _ = image.shape
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = offset + weights[0] * image[i, j, 0] + weights[1] * image[i, j, 1] + weights[2] * image[i, j, 2]
    return out


@njit(inline="always")
def _plane_row(image, i, weights, offset, dst):  # pragma: no cover - compiled
    """Row ``i`` of the plane ``offset + sum_c weights[c] * image[..., c]`` into ``dst``."""
    if image.shape[2] == 3:
        # Written out for RGB on the flat row, where the channels are a constant 3 apart,
        # so that the loop vectorises; same order of operations as ``luma``.
        w0, w1, w2 = weights[0], weights[1], weights[2]
        f = image[i].reshape(-1)
        for j in range(image.shape[1]):
            dst[j] = offset + w0 * f[3 * j] + w1 * f[3 * j + 1] + w2 * f[3 * j + 2]
    else:
        for j in range(image.shape[1]):
            v = offset
            for c in range(image.shape[2]):
                v += weights[c] * image[i, j, c]
            dst[j] = v


@njit(fastmath={"reassoc", "contract"}, cache=True)
def _raw_squared_error(ref, test, i):  # pragma: no cover - compiled
    # Row i over all channels, as the flat row of interleaved values (unit stride).
    a = ref[i].reshape(-1)
    b = test[i].reshape(-1)
    acc = 0.0
    for q in range(a.shape[0]):
        d = np.float64(a[q]) - np.float64(b[q])
        acc += d * d
    return acc


@njit(nogil=True, cache=True)
def block_job(ref, test, weights, offset, block, r0, r1):  # pragma: no cover - compiled
    """Rows ``r0 .. r1 - 1`` of a pair for PSNR-B (and PSNR): squared errors and the test plane's neighbour sums.

    Both images are reduced to one plane, ``offset + sum_c weights[c] * image[..., c]``
    (BT.601 luma, or one channel with one-hot weights), row by row without storing it.
    A row's vertical pairs are those with the row above it.

    Returns:
        ``(squared error of the plane, sum across block boundaries, sum of the other
        neighbour pairs, squared error over all channels of the pixels as they are)``;
        a pair ``(j - 1, j)`` crosses a boundary when ``j % block == 0``. For ``uint8``
        input the last sum is exact (integers below 2^53).
    """
    w = ref.shape[1]
    prev = np.empty(w)
    cur = np.empty(w)
    ref_row = np.empty(w)
    if r0 > 0:
        _plane_row(test, r0 - 1, weights, offset, prev)
    sse = 0.0
    raw = 0.0
    cross = 0.0
    inner = 0.0
    for i in range(r0, r1):
        _plane_row(test, i, weights, offset, cur)
        _plane_row(ref, i, weights, offset, ref_row)
        raw += _raw_squared_error(ref, test, i)
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
    return sse, cross, inner, raw
