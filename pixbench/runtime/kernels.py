"""Compiled conversions between ``uint8`` images and model tensors, for :class:`pixbench.runtime.runner.Runner`.

Each conversion is one pass over memory, where the same work in numpy takes several
(transpose, scale, shift; rint, clip, cast, check). The kernels work on a band of
rows (or a range of tiles), release the GIL and run on the job runner of
:mod:`pixbench.threads`, so a conversion uses as many threads as the
onnxruntime session it feeds. Results are the same whatever the thread count, and
match the plain numpy expressions given in each docstring bit for bit: every
float32 operation happens in the same order.

Values reach ``uint8`` by clipping to [0, 255] and rounding half to even (as
``np.rint``); a pass also reports whether it met NaN or an infinity, which the
caller turns into a per-sample error.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pixbench.errors import ModelError
from pixbench.threads import run_jobs

#: Adding then subtracting 1.5 * 2**23 rounds a float32 in [0, 2**22) to the nearest integer,
#: ties to even (the CPU's default rounding); values are clipped to [0, 255] first.
_ROUND = np.float32(12582912.0)
#: Values per job at least: handing a job to another thread costs tens of microseconds, so a
#: 384x512 RGB image (590k values) is converted on one thread and a 1080p frame on all of them.
MIN_JOB = 1 << 20


# ---------------------------------------------------------------------------------------------
# Kernels (one band of rows or one range of tiles each)


@njit(inline="always")
def _to_planes(src, c, dst, t, i, mul, add):  # pragma: no cover - compiled
    # One HWC row ``src`` (``w * c`` values) into row ``i`` of the first ``c`` planes of ``dst[t]``.
    w = src.size // c
    if c == 3:  # three output streams, one read stream: the common case, written out
        d0, d1, d2 = dst[t, 0, i], dst[t, 1, i], dst[t, 2, i]
        for j in range(w):
            d0[j] = np.float32(src[3 * j]) * mul + add
            d1[j] = np.float32(src[3 * j + 1]) * mul + add
            d2[j] = np.float32(src[3 * j + 2]) * mul + add
    else:
        for k in range(c):
            d = dst[t, k, i]
            for j in range(w):
                d[j] = np.float32(src[j * c + k]) * mul + add


@njit(nogil=True, cache=True)
def _pack_rows(src, dst, nchw, mul, add, r0, r1):  # pragma: no cover - compiled
    n, _, w, c = src.shape
    for b in range(n):
        for i in range(r0, r1):
            if nchw:
                _to_planes(src[b, i].reshape(-1), c, dst, b, i, mul, add)
            else:
                for j in range(w):
                    for k in range(c):
                        dst[b, i, j, k] = np.float32(src[b, i, j, k]) * mul + add


@njit(nogil=True, cache=True)
def _pack_tiles(image, ys, xs, dst, nchw, mul, add, t0, t1):  # pragma: no cover - compiled
    _, _, c = image.shape
    th, tw = (dst.shape[2], dst.shape[3]) if nchw else (dst.shape[1], dst.shape[2])
    for t in range(t0, t1):
        y0, x0 = ys[t], xs[t]
        if nchw:
            for i in range(th):
                _to_planes(image[y0 + i].reshape(-1)[x0 * c : (x0 + tw) * c], c, dst, t - t0, i, mul, add)
        else:
            for i in range(th):
                src, d = image[y0 + i, x0 : x0 + tw], dst[t - t0, i]
                for j in range(tw):
                    for k in range(c):
                        d[j, k] = np.float32(src[j, k]) * mul + add


@njit(nogil=True, cache=True)
def _unpack_rows(src, dst, planar, sub, mul, r0, r1):  # pragma: no cover - compiled
    if planar:
        c, _, w = src.shape
    else:
        _, w, c = src.shape
    u = np.empty((c, w), np.uint8)
    bad = False
    for i in range(r0, r1):
        d = dst[i]
        if planar:  # a contiguous plane row at a time, then the bytes are interleaved
            for k in range(c):
                a, uk = src[k, i], u[k]
                for j in range(w):
                    v = (a[j] - sub) * mul
                    bad |= (v - v) != 0  # NaN for NaN and for both infinities
                    v = min(max(v, np.float32(0.0)), np.float32(255.0))
                    uk[j] = np.uint8((v + _ROUND) - _ROUND)
            if c == 3:
                for j in range(w):
                    d[3 * j], d[3 * j + 1], d[3 * j + 2] = u[0, j], u[1, j], u[2, j]
            else:
                for k in range(c):
                    for j in range(w):
                        d[j * c + k] = u[k, j]
        else:
            a = src[i]
            for j in range(w):
                for k in range(c):
                    v = (a[j, k] - sub) * mul
                    bad |= (v - v) != 0
                    v = min(max(v, np.float32(0.0)), np.float32(255.0))
                    d[j * c + k] = np.uint8((v + _ROUND) - _ROUND)
    return bad


@njit(nogil=True, cache=True)
def _accumulate(out, acc, ys, xs, fy, fx, ry, rx, nchw, r0, r1):  # pragma: no cover - compiled
    th, tw = ry.shape[1], rx.shape[1]
    c = acc.shape[0] if nchw else acc.shape[2]
    weight = np.empty(tw, np.float32)
    for t in range(out.shape[0]):
        y0, x0 = ys[t], xs[t]
        wx = rx[t]
        for i in range(max(r0, y0), min(r1, y0 + th)):
            ti = i - y0
            wy = ry[t, ti]
            for j in range(tw):
                weight[j] = wy * wx[j]
            # Columns from ``first`` on have not been written by an earlier tile: set, not add.
            first = min(max(fx[t] - x0, 0), tw) if i >= fy[t] else tw
            # (Loops start at 0 over slices: numba then knows no index is negative, and vectorises.)
            wa, wb = weight[:first], weight[first:]
            if nchw:
                for k in range(c):
                    a, o = acc[k, i, x0 : x0 + first], out[t, k, ti, :first]
                    for j in range(first):
                        a[j] += o[j] * wa[j]
                    a, o = acc[k, i, x0 + first : x0 + tw], out[t, k, ti, first:]
                    for j in range(tw - first):
                        a[j] = o[j] * wb[j]
            else:
                a, o = acc[i, x0 : x0 + first], out[t, ti, :first]
                for j in range(first):
                    for k in range(c):
                        a[j, k] += o[j, k] * wa[j]
                a, o = acc[i, x0 + first : x0 + tw], out[t, ti, first:]
                for j in range(tw - first):
                    for k in range(c):
                        a[j, k] = o[j, k] * wb[j]


# ---------------------------------------------------------------------------------------------
# Entry points


def _jobs(values: int, threads: int) -> int:
    """How many jobs to cut ``values`` of work into: two per thread, none below :data:`MIN_JOB`."""
    return max(1, min(2 * threads, values // MIN_JOB)) if threads > 1 else 1


def _bands(rows: int, values: int, threads: int) -> list[tuple[int, int]]:
    n = min(rows, _jobs(values, threads))
    return [(rows * j // n, rows * (j + 1) // n) for j in range(n)]


def _check(flags: list[bool]) -> None:
    if any(flags):
        raise ModelError("output holds NaN or Inf")


def pack(src: np.ndarray, dst: np.ndarray, *, nchw: bool, mul: float, add: float, threads: int = 1) -> None:
    """``dst[..., :C] = src * mul + add`` in float32, from ``NHWC uint8`` into a model buffer.

    ``dst`` is ``(N, C', H, W)`` when ``nchw`` else ``(N, H, W, C')`` with ``C' >= C``, float32 (or
    uint8 for a plain copy, ``mul=1, add=0``); channels from ``C`` on are left alone (a mask channel
    goes there).
    """
    src = np.ascontiguousarray(src)  # the kernel reads whole rows as flat runs of values
    mul32, add32 = np.float32(mul), np.float32(add)
    bands = _bands(src.shape[1], src.size, threads)
    run_jobs(lambda j: _pack_rows(src, dst, nchw, mul32, add32, *bands[j]), len(bands))


def pack_tiles(
    image: np.ndarray, origins: np.ndarray, dst: np.ndarray, *, nchw: bool, mul: float, add: float, threads: int = 1
) -> None:
    """Cut tiles at ``origins`` (``(n, 2)`` of ``y, x``) from an ``HxWxC`` image into ``dst``: ``image * mul + add``.

    ``image`` is uint8 or float32; ``dst`` is float32, ``(n, C', th, tw)`` when ``nchw``
    else ``(n, th, tw, C')``; channels from ``C`` on are left alone.
    """
    image = np.ascontiguousarray(image)  # the kernel reads tile rows as flat runs of values
    mul32, add32 = np.float32(mul), np.float32(add)
    ys, xs = np.ascontiguousarray(origins[:, 0]), np.ascontiguousarray(origins[:, 1])
    n = len(origins)
    jobs = min(n, _jobs(dst.size, threads))
    run_jobs(
        lambda j: _pack_tiles(
            image, ys, xs, dst[n * j // jobs :], nchw, mul32, add32, n * j // jobs, n * (j + 1) // jobs
        ),
        jobs,
    )


def to_image(src: np.ndarray, *, planar: bool, sub: float, mul: float = 1.0, threads: int = 1) -> np.ndarray:
    """A new ``HxWxC uint8`` image from float32 (or uint8) pixels: ``(src - sub) * mul``, clipped, rounded.

    ``src`` is ``CxHxW`` when ``planar`` else ``HxWxC``; a view with larger row strides is fine.

    Raises:
        ModelError: ``src`` holds NaN or Inf.
    """
    c, h, w = src.shape if planar else (src.shape[2], src.shape[0], src.shape[1])
    out = np.empty((h, w, c), np.uint8)
    flat = out.reshape(h, w * c)
    sub32, mul32 = np.float32(sub), np.float32(mul)
    bands = _bands(h, src.size, threads)
    _check(run_jobs(lambda j: _unpack_rows(src, flat, planar, sub32, mul32, *bands[j]), len(bands)))
    return out


def first_cover(origins: np.ndarray, tile: tuple[int, int]) -> np.ndarray:
    """For tiles on a grid in row-major order, where each starts to cover pixels no earlier tile did.

    Returns ``(n, 2)`` of ``(fy, fx)``: the bottom edge of the previous row of tiles (0 for the
    first row) and the right edge of the previous tile in the row (0 for the first column).
    """
    rows, cols = np.unique(origins[:, 0]), np.unique(origins[:, 1])
    fy = np.concatenate([[0], rows[:-1] + tile[0]])[np.searchsorted(rows, origins[:, 0])]
    fx = np.concatenate([[0], cols[:-1] + tile[1]])[np.searchsorted(cols, origins[:, 1])]
    return np.stack([fy, fx], axis=1)


def accumulate(items: list[tuple[np.ndarray, ...]], acc: np.ndarray, *, nchw: bool, threads: int = 1) -> None:
    """Blend weighted tiles into ``acc``, which needs no clearing: tiles must come in row-major order.

    Each item is ``(out, origins, fresh, ry, rx)``: for every tile ``t``, with ``origins[t] = (y, x)``,
    ``acc[.., y:y+th, x:x+tw] += out[t] * (ry[t][:, None] * rx[t])``, except that the part from
    ``fresh[t] = (fy, fx)`` on (rows ``>= fy`` and columns ``>= fx``), which no earlier tile covers
    (:func:`first_cover`), is set rather than added to. ``out`` is ``(n, C, th, tw)`` with ``acc`` ``(C, H, W)`` when
    ``nchw``, else ``(n, th, tw, C)`` and ``(H, W, C)``; ``ry`` is ``(n, th)`` and ``rx`` ``(n, tw)``
    (separable weights). Jobs own bands of ``acc`` rows, so overlapping tiles never race, and each
    element receives its tiles in the order given.
    """
    split = [
        (
            out,
            np.ascontiguousarray(o[:, 0]),
            np.ascontiguousarray(o[:, 1]),
            np.ascontiguousarray(f[:, 0]),
            np.ascontiguousarray(f[:, 1]),
            ry,
            rx,
        )
        for out, o, f, ry, rx in items
    ]
    bands = _bands(acc.shape[1] if nchw else acc.shape[0], sum(item[0].size for item in items), threads)

    def job(j: int) -> None:
        for out, ys, xs, fy, fx, ry, rx in split:
            _accumulate(out, acc, ys, xs, fy, fx, ry, rx, nchw, *bands[j])

    run_jobs(job, len(bands))
