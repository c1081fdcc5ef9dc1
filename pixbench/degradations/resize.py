"""Bicubic resizing that gives the pixels of MATLAB's ``imresize(I, scale, 'bicubic')``.

The super-resolution literature makes its low-resolution inputs, and its "bicubic"
baseline rows, with MATLAB's ``imresize``; Pillow, OpenCV and scikit-image resize
differently (other kernel widths when shrinking, other borders, other rounding), which
moves PSNR by tenths of a dB. :func:`imresize` follows MATLAB's documented algorithm:

- output size ``ceil(scale * size)`` when a scale is given; with ``output_shape`` each
  dimension's scale is ``out / in``;
- per dimension, output pixel ``x`` (1-based) samples the input at
  ``u = x / scale + 0.5 * (1 - 1 / scale)``, with Keys' cubic kernel (``a = -0.5``);
  when shrinking, the kernel is stretched by ``1 / scale`` and scaled by ``scale``
  (antialiasing, MATLAB's default), so it is ``4 / scale`` pixels wide;
- ``ceil(width) + 2`` taps from ``floor(u - width / 2)``; taps outside the image are
  mirrored with the edge pixel repeated (``1 2 3 | 3 2 1``); each output's weights are
  divided by their sum; taps whose weight is zero for every output are dropped;
- the dimension with the smaller scale first (rows first on a tie);
- each pass is summed in float64 and stored as ``uint8`` (rounded half away from zero,
  clipped), as MATLAB stores the intermediate image of a ``uint8`` input.

How it was checked is written in ``docs/recipes.md`` ("imresize").
"""

from __future__ import annotations

import math

import numpy as np

from pixbench.images import MAX_PIXELS

#: Width of Keys' cubic kernel at scale 1, in input pixels.
KERNEL_WIDTH = 4.0
#: Most entries of one weight table (``out x taps``): bounds the memory a tiny scale can ask for.
MAX_TABLE = 1 << 25


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def contributions(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weight and index tables of one dimension, both ``(n_out, taps)``.

    Output ``o`` (0-based) is ``sum_t weights[o, t] * input[indices[o, t]]``.

    Args:
        n_in: Input length along the dimension.
        n_out: Output length.
        scale: Output pixels per input pixel (below 1 shrinks, with antialiasing).
    """
    width = KERNEL_WIDTH / scale if scale < 1 else KERNEL_WIDTH
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    # 1-based input positions of every tap, as in MATLAB.
    positions = left[:, None] + np.arange(taps)
    distance = u[:, None] - positions
    weights = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric borders: position p maps through the sequence 1..n, n..1 repeated.
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])
    indices = mirror[np.mod(positions.astype(np.int64) - 1, 2 * n_in)]
    used = np.any(weights != 0, axis=0)
    return np.ascontiguousarray(weights[:, used]), np.ascontiguousarray(indices[:, used], dtype=np.intp)


def _check_image(image: object) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected a uint8 HxW or HxWxC image, got dtype {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image: expected a uint8 HxW or HxWxC image, got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"image: expected a non-empty image, got shape {image.shape}")
    return image


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def _is_integer(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _target(
    size: tuple[int, int], scale: float | None, output_shape: tuple[int, int] | None
) -> tuple[tuple[int, int], tuple[float, float]]:
    """Output size and the scale of each dimension, from exactly one of ``scale`` and ``output_shape``."""
    if (scale is None) == (output_shape is None):
        raise ValueError("imresize: give exactly one of scale and output_shape")
    if scale is not None:
        if not _is_number(scale) or not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale: expected a finite number > 0, got {scale!r}")
        s = float(scale)
        return (math.ceil(s * size[0]), math.ceil(s * size[1])), (s, s)
    shape = tuple(output_shape) if isinstance(output_shape, (tuple, list)) else None
    if shape is None or len(shape) != 2 or not all(_is_integer(v) and v >= 1 for v in shape):
        raise ValueError(f"output_shape: expected (height, width), two integers >= 1, got {output_shape!r}")
    out = (int(shape[0]), int(shape[1]))
    return out, (out[0] / size[0], out[1] / size[1])


def _check_cost(size: tuple[int, int], out: tuple[int, int], scales: tuple[float, float], name: str) -> None:
    """Refuse outputs over :data:`MAX_PIXELS` and kernels whose weight table would exceed :data:`MAX_TABLE`."""
    if out[0] * out[1] > MAX_PIXELS:
        raise ValueError(f"{name}: the output would be {out[0]}x{out[1]} pixels, more than {MAX_PIXELS:,}")
    for n_out, s in zip(out, scales):
        taps = math.ceil(KERNEL_WIDTH / min(s, 1.0)) + 2
        if n_out * taps > MAX_TABLE:
            raise ValueError(
                f"{name}: shrinking {size[0]}x{size[1]} to {out[0]}x{out[1]} needs {taps} taps a pixel; too many"
            )


def imresize(
    image: np.ndarray, *, scale: float | None = None, output_shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Resize a ``uint8`` image as MATLAB's ``imresize(image, scale, 'bicubic')`` does.

    Args:
        image: ``HxW`` or ``HxWxC`` ``uint8``.
        scale: Output pixels per input pixel, the same for both dimensions; the output is
            ``ceil(scale * H) x ceil(scale * W)``.
        output_shape: ``(height, width)`` of the output instead of ``scale``.

    Returns:
        The resized image, ``uint8`` with the input's number of dimensions and channels.

    Raises:
        ValueError: The image is not a non-empty ``uint8`` ``HxW``/``HxWxC`` array, the scale
            is not a finite number > 0, the shape is not two integers >= 1, both or neither
            of ``scale`` and ``output_shape`` are given, or the output (over ``MAX_PIXELS``)
            or the kernel of a tiny scale would not fit in memory.
    """
    image = _check_image(image)
    out, scales = _target(image.shape[:2], scale, output_shape)
    _check_cost(image.shape[:2], out, scales, "scale" if scale is not None else "output_shape")
    # Imported here so that importing pixbench.degradations does not load numba.
    from pixbench.degradations._resize_kernels import resize_cols, resize_rows

    passes = (resize_rows, resize_cols)
    result = np.ascontiguousarray(image.reshape(image.shape[0], image.shape[1], -1))
    # MATLAB's order: the dimension with the smaller scale first, rows first on a tie.
    for dim in sorted((0, 1), key=lambda d: scales[d]):
        if out[dim] == result.shape[dim] and scales[dim] == 1:
            continue  # its weights are one tap of weight exactly 1: the pass would be a copy
        weights, indices = contributions(result.shape[dim], out[dim], scales[dim])
        result = passes[dim](result, weights, indices)
    if np.shares_memory(result, image):
        result = result.copy()  # scale 1: never hand back a view of the caller's array
    return result.reshape(out) if image.ndim == 2 else result
