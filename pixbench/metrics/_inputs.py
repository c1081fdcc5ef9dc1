"""Input checks and colour conventions shared by the restoration metrics."""

from __future__ import annotations

import numpy as np

#: Channel conventions accepted by ``psnr``, ``ssim`` and ``psnr_b``.
CHANNELS = ("rgb", "y", "y_studio")

# ITU-R BT.601 luma weights for R, G, B.
_BT601 = np.array([0.299, 0.587, 0.114])
# BT.601 "studio swing" as MATLAB's rgb2ycbcr and BasicSR use it: for 8-bit data
# Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, i.e. luma in [16, 235].
_STUDIO = np.array([65.481, 128.553, 24.966]) / 255.0
_STUDIO_OFFSET = 16.0 / 255.0


def check_data_range(data_range: float) -> float:
    """Return ``data_range`` as a float after checking it is finite and positive."""
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float, np.integer, np.floating)):
        raise ValueError(
            f"data_range must be a positive number (255 for uint8, 1.0 for [0, 1] floats), got {data_range!r}"
        )
    value = float(data_range)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"data_range must be a positive number (255 for uint8, 1.0 for [0, 1] floats), got {data_range!r}"
        )
    return value


def check_image(image: np.ndarray, name: str, data_range: float) -> np.ndarray:
    """Check one image: HxW or HxWx3, uint8 or float, no NaN/Inf, values within the range.

    The allowed range is ``[0, data_range]``, or ``[-data_range / 2, data_range / 2]``
    around zero for float images (for example ``[-1, 1]`` with ``data_range=2``).
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"{name}: expected an HxWx3 or HxW image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        if data_range < 255:
            # A smaller range would let real values exceed it; 255 is the only right answer.
            raise ValueError(f"{name}: uint8 images need data_range=255, got data_range={data_range:g}")
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name}: expected uint8 or float pixels, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name}: contains non-finite values (first: {bad}); check the model output")
    lo, hi = float(arr.min()), float(arr.max())
    tol = 1e-6 * data_range
    inside_pos = lo >= -tol and hi <= data_range + tol
    inside_sym = lo >= -data_range / 2 - tol and hi <= data_range / 2 + tol
    if not (inside_pos or inside_sym):
        raise ValueError(
            f"{name}: values span [{lo:g}, {hi:g}], outside data_range={data_range:g} "
            f"(expected [0, {data_range:g}]); clip the output or pass the right data_range"
        )
    return arr


def check_pair(reference: np.ndarray, test: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate a reference/test pair and ``data_range``; return them as arrays."""
    dr = check_data_range(data_range)
    ref = np.asarray(reference)
    tst = np.asarray(test)
    if ref.shape != tst.shape:
        raise ValueError(f"reference and test shapes differ: reference {ref.shape}, test {tst.shape}")
    if ref.size == 0:
        raise ValueError(f"reference and test are empty (shape {ref.shape})")
    return check_image(ref, "reference", dr), check_image(tst, "test", dr), dr


def check_channel(channel: str) -> str:
    """Return ``channel`` if it is one of :data:`CHANNELS`."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(map(repr, CHANNELS))}, got {channel!r}")
    return channel


def to_channel(image: np.ndarray, channel: str, data_range: float) -> np.ndarray:
    """Convert an ``HxWx3`` image to the planes a metric compares, as float64 ``(C, H, W)``.

    ``"rgb"`` keeps the three channels; ``"y"`` is full-range BT.601 luma
    (0.299 R + 0.587 G + 0.114 B); ``"y_studio"`` is BT.601 studio-range luma
    (16-235 for 8-bit data, scaled to ``data_range``), not rounded. Greyscale
    ``HxW`` images are one plane under every convention: there is no colour to convert.
    """
    if image.ndim == 2:
        return image.astype(np.float64)[None]
    if channel == "rgb":
        return np.moveaxis(image, -1, 0).astype(np.float64)
    from pixbench.metrics._kernels import luma

    weights = _BT601 if channel == "y" else _STUDIO
    offset = _STUDIO_OFFSET * data_range if channel == "y_studio" else 0.0
    return luma(np.ascontiguousarray(image), weights, offset)[None]


def crop(planes: np.ndarray, crop_border: int) -> np.ndarray:
    """Drop ``crop_border`` pixels from each side of ``(C, H, W)`` planes."""
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ValueError(f"crop_border must be a non-negative integer, got {crop_border!r}")
    if crop_border == 0:
        return planes
    h, w = planes.shape[1:]
    if 2 * crop_border >= min(h, w):
        raise ValueError(f"crop_border={crop_border} leaves nothing of a {h}x{w} image")
    return planes[:, crop_border:-crop_border, crop_border:-crop_border]


def kernel_layout(image: np.ndarray, channel: str, data_range: float, crop_border: int) -> np.ndarray:
    """The ``(H, W, C)`` array the compiled kernels read: C-contiguous ``uint8`` or ``float64``.

    ``uint8`` RGB stays ``uint8`` (a view when already contiguous and uncropped), so the
    kernels convert pixels on the fly; other dtypes become ``float64``. ``"y"`` and
    ``"y_studio"`` give one luma plane; greyscale images are one plane under every setting.
    """
    if image.ndim == 2:
        planes = image[None]
    elif channel == "rgb":
        planes = image.transpose(2, 0, 1)
    else:
        planes = to_channel(image, channel, data_range)
    hwc = crop(planes, crop_border).transpose(1, 2, 0)
    return np.ascontiguousarray(hwc, dtype=np.uint8 if hwc.dtype == np.uint8 else np.float64)


def plane_weights(channel: str, n_channels: int, data_range: float) -> list[tuple[np.ndarray, float]]:
    """``(weights, offset)`` of each plane a metric compares, for an image with ``n_channels``.

    A plane is ``offset + sum_c weights[c] * image[..., c]``: BT.601 luma for ``"y"`` and
    ``"y_studio"``, and one-hot weights (each channel as it is) for ``"rgb"`` and greyscale.
    """
    if n_channels == 1 or channel == "rgb":
        return [(np.eye(n_channels)[c], 0.0) for c in range(n_channels)]
    weights = _BT601 if channel == "y" else _STUDIO
    return [(weights, _STUDIO_OFFSET * data_range if channel == "y_studio" else 0.0)]
