"""Full-reference restoration metrics: PSNR, SSIM, PSNR-B and masked (inpainting) errors.

All functions score one image pair and return plain floats; averaging over a
dataset is done explicitly with :func:`pixbench.metrics.aggregate`. Conventions
are written out in ``docs/metrics.md``.
"""

from __future__ import annotations

import math

import numpy as np

from pixbench.metrics._inputs import check_channel, check_pair, crop, kernel_layout, plane_weights, to_channel
from pixbench.threads import run_jobs

#: SSIM constants of Wang et al. (2004): an 11x11 Gaussian window (radius
#: ``int(3.5 * 1.5 + 0.5) = 5``, as scikit-image truncates it), sigma 1.5, K1, K2.
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
SSIM_K1 = 0.01
SSIM_K2 = 0.03

# Rows per parallel job. Fixed numbers (never derived from the thread count) so that
# the jobs, and hence the order in which partial sums are added, never change.
SSIM_ROWS_PER_JOB = 64
SSIM_TILE = 512
BLOCK_ROWS_PER_JOB = 64
SSE_CHUNK = 1 << 18
_ONE = np.ones(1)


def _psnr_from_mse(mse: float, data_range: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(data_range * data_range / mse)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    if a.dtype == np.uint8 and b.dtype == np.uint8:
        from pixbench.metrics._kernels import squared_error_job

        # An exact integer-valued sum, in one pass without temporaries.
        fa = np.ascontiguousarray(a).reshape(-1)
        fb = np.ascontiguousarray(b).reshape(-1)
        n = fa.size
        parts = run_jobs(
            lambda j: squared_error_job(fa, fb, j * SSE_CHUNK, min(n, (j + 1) * SSE_CHUNK)), -(-n // SSE_CHUNK)
        )
        return sum(parts) / n
    d = np.subtract(a, b, dtype=np.float64).ravel()
    return float(np.dot(d, d)) / d.size


def psnr(
    reference: np.ndarray, test: np.ndarray, *, data_range: float, channel: str = "rgb", crop_border: int = 0
) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` in dB.

    Args:
        reference: Ground truth, ``HxWx3`` or ``HxW``, uint8 or float.
        test: Image to score, same shape.
        data_range: Peak-to-peak range of the pixel values (255 for uint8, 1.0 for [0, 1]).
        channel: ``"rgb"`` (MSE over all channels), ``"y"`` (BT.601 full-range luma) or
            ``"y_studio"`` (BT.601 16-235 luma, the MATLAB/BasicSR convention).
        crop_border: Pixels dropped from each side before comparing.

    Returns:
        PSNR in dB; ``math.inf`` for identical images.

    Raises:
        ValueError: Shapes differ, a dtype or value range is wrong, or an option is invalid.
    """
    ref, tst, dr = check_pair(reference, test, data_range)
    check_channel(channel)
    if crop_border == 0 and (channel == "rgb" or ref.ndim == 2):
        return _psnr_from_mse(_mse(ref, tst), dr)
    a = crop(to_channel(ref, channel, dr), crop_border)
    b = crop(to_channel(tst, channel, dr), crop_border)
    return _psnr_from_mse(_mse(a, b), dr)


def ssim(
    reference: np.ndarray, test: np.ndarray, *, data_range: float, channel: str = "rgb", crop_border: int = 0
) -> float:
    """Mean structural similarity (Wang et al. 2004), as scikit-image computes it.

    Gaussian-weighted local statistics (11x11 window, sigma 1.5, population
    covariance, K1 = 0.01, K2 = 0.03) on each plane; the SSIM map is averaged over
    the positions whose window lies wholly inside the image (scikit-image crops 5
    pixels per side before its mean), then over channels. This equals
    ``skimage.metrics.structural_similarity(ref, test, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=data_range, channel_axis=-1)``.

    Args:
        reference: Ground truth, ``HxWx3`` or ``HxW``, uint8 or float.
        test: Image to score, same shape.
        data_range: Peak-to-peak range of the pixel values.
        channel: ``"rgb"``, ``"y"`` or ``"y_studio"`` (see :func:`psnr`).
        crop_border: Pixels dropped from each side before computing SSIM.

    Returns:
        Mean SSIM, at most 1.0.

    Raises:
        ValueError: Bad inputs, or an image (after cropping) smaller than 11x11.
    """
    ref, tst, dr = check_pair(reference, test, data_range)
    check_channel(channel)
    return _ssim_checked(ref, tst, dr, channel, crop_border)


def _ssim_checked(ref: np.ndarray, tst: np.ndarray, dr: float, channel: str, crop_border: int) -> float:
    # Imported here so that importing pixbench.metrics does not load numba.
    from pixbench.metrics._kernels import ssim_job

    x = kernel_layout(ref, channel, dr, crop_border)
    y = kernel_layout(tst, channel, dr, crop_border)
    h, w, n_ch = x.shape
    win = 2 * SSIM_RADIUS + 1
    if h < win or w < win:
        raise ValueError(f"SSIM needs images of at least {win}x{win} pixels after cropping, got {h}x{w}")
    shift = _centre(x[::8, ::8])
    # float64 throughout. A float32 filtering pass (with float64 sums) was measured at
    # 1.25x the speed but 4e-5 away from scikit-image on a pair of flat images, where
    # E[x^2] - E[x]^2 cancels completely.
    xf = x.reshape(h, w * n_ch)
    yf = y.reshape(h, w * n_ch)
    g = _gaussian_window()
    c1 = (SSIM_K1 * dr) ** 2
    c2 = (SSIM_K2 * dr) ** 2
    h_out = h - win + 1
    n_tiles = -(-(w - win + 1) // SSIM_TILE)

    def job(j: int) -> float:
        r0 = (j // n_tiles) * SSIM_ROWS_PER_JOB
        return ssim_job(
            xf, yf, n_ch, g, c1, c2, shift, r0, min(h_out, r0 + SSIM_ROWS_PER_JOB), (j % n_tiles) * SSIM_TILE, SSIM_TILE
        )

    sums = run_jobs(job, -(-h_out // SSIM_ROWS_PER_JOB) * n_tiles)
    return float(sum(sums) / (n_ch * h_out * (w - win + 1)))


def _centre(sample: np.ndarray) -> float:
    """A constant near the image mean; subtracting it keeps ``E[x^2] - E[x]^2`` well conditioned.

    Any constant gives the same SSIM in exact arithmetic (the luminance term adds it
    back), so a subsample's mean is good enough.
    """
    return float(sample.mean(dtype=np.float64))


def _gaussian_window() -> np.ndarray:
    """The normalised 1-D Gaussian of scipy.ndimage (sigma 1.5, truncate 3.5 -> 11 taps)."""
    x = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    return g / g.sum()


#: How PSNR-B counts the neighbour pairs it averages over: ``pairs`` (the pairs summed) or
#: ``yim-bovik`` (the paper's ``N_V (N_H / B - 1)``, with a fractional ``N_H / B`` where a side is
#: not a multiple of ``B``, as the MATLAB code behind the published LIVE1 tables counts them).
BOUNDARY_COUNTS = ("pairs", "yim-bovik")


def _bef(cross: float, inner: float, h: int, w: int, block_size: int, counts: str = "pairs") -> float:
    """``eta * max(D_B - D_Bc, 0)`` of one plane from its neighbour sums."""
    eta = math.log2(block_size) / math.log2(min(h, w))
    if counts == "pairs":
        # Pairs crossing a boundary: (h rows x (w - 1) // B columns) + (w x (h - 1) // B).
        n_cross: float = h * ((w - 1) // block_size) + w * ((h - 1) // block_size)
    else:  # equal to the pairs where both sides are multiples of B
        n_cross = h * (w / block_size - 1) + w * (h / block_size - 1)
    n_inner = h * (w - 1) + w * (h - 1) - n_cross
    d_b = cross / n_cross
    d_bc = inner / n_inner
    return eta * (d_b - d_bc) if d_b > d_bc else 0.0


def blocking_effect_factor(planes: np.ndarray, block_size: int = 8) -> float:
    """Blocking effect factor of Yim and Bovik (2011), averaged over planes.

    For each plane, ``D_B`` is the mean squared difference of neighbouring pixels
    across block boundaries (horizontal and vertical pairs pooled) and ``D_Bc``
    the same over all other neighbouring pairs; ``BEF = eta * max(D_B - D_Bc, 0)``
    with ``eta = log2(B) / log2(min(H, W))``. Block boundaries are between pixels
    ``kB - 1`` and ``kB`` for ``k >= 1``, counted from the top-left corner.

    Args:
        planes: ``(C, H, W)`` float array.
        block_size: Block size ``B`` (8 for JPEG).
    """
    _, h, w = planes.shape
    values = []
    for plane in planes:
        hwc = np.ascontiguousarray(plane, dtype=np.float64)[:, :, None]
        _, cross, inner, _ = _block_sums(hwc, hwc, _ONE, 0.0, block_size)
        values.append(_bef(cross, inner, h, w, block_size))
    return float(np.mean(values))


def psnr_b(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    data_range: float,
    channel: str = "y",
    block_size: int = 8,
    boundary_counts: str = "pairs",
) -> float:
    """PSNR-B of Yim and Bovik (2011): PSNR with the test image's blocking effect added to the MSE.

    ``PSNR-B = 10 log10(data_range^2 / (MSE + BEF(test)))``. The reference image only
    enters through the MSE. On ``"rgb"`` the MSE is over all channels and the BEF is the
    mean of the per-channel BEFs.

    Args:
        reference: Ground truth, ``HxWx3`` or ``HxW``, uint8 or float.
        test: Decoded (possibly blocky) image, same shape.
        data_range: Peak-to-peak range of the pixel values.
        channel: ``"y"`` (default, BT.601 full-range luma), ``"y_studio"`` or ``"rgb"``.
        block_size: Coding block size (8 for JPEG and BlockCNN).
        boundary_counts: How the mean differences are normalised (:data:`BOUNDARY_COUNTS`):
            ``"pairs"`` divides by the pairs summed; ``"yim-bovik"`` by the paper's counts, which
            differ only where a side is not a multiple of ``block_size``.

    Returns:
        PSNR-B in dB; ``math.inf`` when the images are identical and the test image has no
        blocking effect.

    Raises:
        ValueError: Bad inputs, or an image not larger than one block in each direction.
    """
    ref, tst, dr = check_pair(reference, test, data_range)
    check_channel(channel)
    _check_block(block_size, ref.shape)
    _check_counts(boundary_counts)
    return _psnr_b_checked(ref, tst, dr, channel, int(block_size), boundary_counts)[0]


def _check_counts(boundary_counts: str) -> None:
    if boundary_counts not in BOUNDARY_COUNTS:
        raise ValueError(
            f"boundary_counts must be one of {', '.join(map(repr, BOUNDARY_COUNTS))}, got {boundary_counts!r}"
        )


def _check_block(block_size: int, shape: tuple[int, ...]) -> None:
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 2:
        raise ValueError(f"block_size must be an integer >= 2, got {block_size!r}")
    h, w = shape[:2]
    if min(h, w) <= block_size:
        raise ValueError(f"PSNR-B needs images larger than one {block_size}x{block_size} block, got {h}x{w}")


def _block_sums(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, offset: float, block_size: int
) -> tuple[float, float, float, float]:
    """:func:`~pixbench.metrics._kernels.block_job` over all rows, in bands of ``BLOCK_ROWS_PER_JOB``."""
    from pixbench.metrics._kernels import block_job

    h = x.shape[0]
    parts = run_jobs(
        lambda j: block_job(
            x, y, weights, offset, block_size, j * BLOCK_ROWS_PER_JOB, min(h, (j + 1) * BLOCK_ROWS_PER_JOB)
        ),
        -(-h // BLOCK_ROWS_PER_JOB),
    )
    # Added in job order: the same sums whatever the thread count.
    return tuple(sum(p[k] for p in parts) for k in range(4))


def _psnr_b_checked(
    ref: np.ndarray, tst: np.ndarray, dr: float, channel: str, block_size: int, counts: str = "pairs"
) -> tuple[float, float]:
    """PSNR-B, and the squared error summed over every channel of the pixels as given."""
    h, w = ref.shape[:2]
    x = kernel_layout(ref, "rgb", dr, 0)
    y = kernel_layout(tst, "rgb", dr, 0)
    # One pass per plane: the plane (luma, or one channel by one-hot weights) is formed
    # on the fly from the pixels, so neither image is converted as a whole.
    sse = raw = 0.0
    befs = []
    for weights, offset in plane_weights(channel, x.shape[2], dr):
        err, cross, inner, raw = _block_sums(x, y, weights, offset, block_size)
        sse += err
        befs.append(_bef(cross, inner, h, w, block_size, counts))
    mse = sse / (len(befs) * h * w)
    return _psnr_from_mse(mse + float(np.mean(befs)), dr), raw


def restoration_metrics(
    reference: np.ndarray, test: np.ndarray, *, data_range: float, block_size: int = 8, boundary_counts: str = "pairs"
) -> dict[str, float]:
    """PSNR, SSIM and PSNR-B of one pair under pixbench's default conventions, in two passes.

    The same numbers as ``psnr(...)``, ``ssim(...)`` and ``psnr_b(...)`` with their
    defaults (PSNR and SSIM on RGB, PSNR-B on full-range Y), but the inputs are checked
    once and PSNR's squared error is summed in PSNR-B's pass over the pixels. For
    ``uint8`` images every value is identical to the separate functions'.

    Args:
        reference: Ground truth, ``HxWx3`` or ``HxW``, uint8 or float.
        test: Image to score, same shape.
        data_range: Peak-to-peak range of the pixel values.
        block_size: Coding block size for PSNR-B.
        boundary_counts: PSNR-B's normalisation (see :func:`psnr_b`).

    Returns:
        ``{"psnr": ..., "ssim": ..., "psnr_b": ...}``.

    Raises:
        ValueError: Bad inputs, or an image smaller than 11x11 or not larger than one block.
    """
    ref, tst, dr = check_pair(reference, test, data_range)
    _check_block(block_size, ref.shape)
    _check_counts(boundary_counts)
    value_b, raw = _psnr_b_checked(ref, tst, dr, "y", int(block_size), boundary_counts)
    return {
        "psnr": _psnr_from_mse(raw / ref.size, dr),
        "ssim": _ssim_checked(ref, tst, dr, "rgb", 0),
        "psnr_b": value_b,
    }


def masked_metrics(reference: np.ndarray, test: np.ndarray, mask: np.ndarray, *, data_range: float) -> dict[str, float]:
    """Errors inside the holes of an inpainting mask and over the whole image.

    Args:
        reference: Ground truth, ``HxWx3`` or ``HxW``.
        test: Inpainted image, same shape.
        mask: ``HxW`` boolean array, True where the hole is (non-bool masks must be 0/1 or 0/255).
        data_range: Peak-to-peak range of the pixel values.

    Returns:
        ``mse_hole``, ``l1_hole``, ``psnr_hole`` (over hole pixels, all channels) and
        ``mse_full``, ``l1_full``, ``psnr_full`` (over every pixel). MSE and L1 are in
        pixel units of ``data_range``; PSNR is ``inf`` where the MSE is 0.

    Raises:
        ValueError: Bad inputs, a mask of the wrong shape or values, or a mask with no holes.
    """
    ref, tst, dr = check_pair(reference, test, data_range)
    m = np.asarray(mask)
    if m.shape != ref.shape[:2]:
        raise ValueError(f"mask shape {m.shape} does not match the images' HxW {ref.shape[:2]}")
    if m.dtype != np.bool_:
        values = np.unique(m)
        if not (set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {0, 255}):
            raise ValueError(f"mask must be boolean (True = hole) or 0/1 or 0/255, got values {values[:5].tolist()}")
        m = m > 0
    if not m.any():
        raise ValueError("mask has no hole pixels (all False); hole metrics are undefined")
    diff = np.subtract(ref, tst, dtype=np.float64)
    hole = diff[m]
    out = {}
    for key, d in (("hole", hole), ("full", diff)):
        mse = float(np.mean(d * d))
        out[f"mse_{key}"] = mse
        out[f"l1_{key}"] = float(np.mean(np.abs(d)))
        out[f"psnr_{key}"] = _psnr_from_mse(mse, dr)
    return out
