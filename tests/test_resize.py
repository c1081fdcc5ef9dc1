"""MATLAB-compatible bicubic imresize: hand-derived values, borders, sizes, the Set5 known answer."""

import math

import numpy as np
import pytest

from pixbench.degradations import imresize
from pixbench.images import decode_image
from pixbench.metrics import get_threads, psnr, set_threads


def _row(values) -> np.ndarray:
    return np.array([values], dtype=np.uint8)


def test_upscale_x2_impulse_follows_the_cubic_kernel():
    # Up x2: output x (1-based) samples u = x/2 + 1/4. Even x = 2k: u = k + 1/4, pixels k-1..k+2 at
    # distances 5/4, 1/4, -3/4, -7/4; Keys' cubic (a = -0.5) there is -9/128, 111/128, 29/128, -3/128
    # (e.g. 1.5*0.25^3 - 2.5*0.25^2 + 1 = 111/128). Odd x = 2k + 1: the same weights reversed.
    # An impulse of +64 at pixel 4 on a background of 100 adds 64*w: x4: -1.5, x5: -4.5, x6: 14.5,
    # x7: 55.5, x8: 55.5, x9: 14.5, x10: -4.5, x11: -1.5. Rounded half away from zero
    # (98.5 -> 99, 114.5 -> 115; rounding half to even would give 98 and 114).
    row = _row([100, 100, 100, 164, 100, 100, 100, 100])
    out = imresize(row, output_shape=(1, 16))
    assert out.tolist() == [[100, 100, 100, 99, 96, 115, 156, 156, 115, 96, 99, 100, 100, 100, 100, 100]]
    # On a background of 0 the negative lobes clip to 0.
    out = imresize(_row([0, 0, 0, 64, 0, 0, 0, 0]), output_shape=(1, 16))
    assert out.tolist() == [[0, 0, 0, 0, 0, 15, 56, 56, 15, 0, 0, 0, 0, 0, 0, 0]]


def test_downscale_x2_ramp_uses_the_widened_kernel_and_symmetric_borders():
    # Down x2 with antialiasing: h(d) = cubic(d/2)/2, 8 pixels wide; output x samples u = 2x - 1/2,
    # so the taps at distances +-0.5, +-1.5, +-2.5, +-3.5 weigh 111, 29, -9, -3 (/256) each side.
    # Ramp p_i = 16 i (i = 1..8). Output 1 (u = 1.5) reaches positions 0, -1, -2, mirrored to 1, 2, 3:
    # (140 p1 + 102 p2 + 26 p3 - 9 p4 - 3 p5) / 256 = 371/16 = 23.1875 (edge replication: 24.125).
    # Output 2 (u = 3.5; position 0 -> 1): 893/16 = 55.8125. Output 3 (u = 5.5; position 9 -> 8):
    # 1411/16 = 88.1875. Output 4 (u = 7.5; positions 9, 10, 11 -> 8, 7, 6): 1933/16 = 120.8125.
    ramp = _row([16 * i for i in range(1, 9)])
    assert imresize(ramp, output_shape=(1, 4)).tolist() == [[23, 56, 88, 121]]
    # Two equal rows, scale 1/2: the row pass averages equal values (weights sum to 1 exactly).
    assert imresize(np.vstack([ramp, ramp]), scale=0.5).tolist() == [[23, 56, 88, 121]]
    # The same ramp down the columns gives the same values.
    assert imresize(ramp.T.copy(), output_shape=(4, 1)).ravel().tolist() == [23, 56, 88, 121]


def test_scale_one_is_an_exact_copy():
    image = np.random.default_rng(0).integers(0, 256, (23, 31, 3), dtype=np.uint8)
    out = imresize(image, scale=1)
    assert np.array_equal(out, image) and not np.shares_memory(out, image)
    assert np.array_equal(imresize(image, output_shape=(23, 31)), image)


@pytest.mark.parametrize(
    ("shape", "scale", "expected"),
    [
        ((7, 10), 0.5, (4, 5)),  # ceil(3.5), ceil(5)
        ((10, 11), 1 / 3, (4, 4)),  # ceil(3.33), ceil(3.67)
        ((3, 5), 2.5, (8, 13)),  # ceil(7.5), ceil(12.5)
        ((12, 16), 0.25, (3, 4)),
        ((5, 6), 4, (20, 24)),
        ((1, 1), 0.1, (1, 1)),
    ],
)
def test_output_size_is_the_ceiling_of_scale_times_size(shape, scale, expected):
    assert imresize(np.zeros(shape, np.uint8), scale=scale).shape == expected
    assert imresize(np.zeros((*shape, 3), np.uint8), scale=scale).shape == (*expected, 3)


def _cubic(d: float) -> float:
    a = abs(d)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2 if a <= 2 else 0.0


def _mirror(p: int, n: int) -> int:
    """1-based position ``p`` reflected into 1..n with the edge pixel repeated (0 -> 1, n + 1 -> n)."""
    while not 1 <= p <= n:
        p = 1 - p if p < 1 else 2 * n + 1 - p
    return p


def _direct_pass(image: np.ndarray, n_out: int, scale: float) -> np.ndarray:
    """One pass along axis 0, written out per output pixel from MATLAB's formulas."""
    n = image.shape[0]
    width = 4 / scale if scale < 1 else 4
    out = np.zeros((n_out, *image.shape[1:]))
    for x in range(1, n_out + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [left + t for t in range(math.ceil(width) + 2)]
        w = [scale * _cubic(scale * (u - p)) if scale < 1 else _cubic(u - p) for p in taps]
        total = sum(w)
        for p, wp in zip(taps, w):
            out[x - 1] += (wp / total) * image[_mirror(p, n) - 1]
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def _direct_imresize(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    rows = _direct_pass(image, math.ceil(scale * h), scale)  # equal scales: rows first, as MATLAB
    return np.swapaxes(_direct_pass(np.swapaxes(rows, 0, 1), math.ceil(scale * w), scale), 0, 1)


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 0.6])
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_matches_the_formula_written_out_per_pixel(scale, channels):
    rng = np.random.default_rng(7)
    shape = (13, 17) if channels is None else (13, 17, channels)
    # A smooth image plus noise: values far from a rounding tie, so float order cannot matter.
    yy, xx = np.mgrid[:13, :17]
    base = 60 + 8 * yy + 5 * xx
    image = np.clip(base.reshape(13, 17, *([1] if channels else [])) + rng.integers(-40, 40, shape), 0, 255)
    image = image.astype(np.uint8)
    out = imresize(image, scale=scale)
    assert out.dtype == np.uint8 and out.ndim == image.ndim
    assert np.array_equal(out, _direct_imresize(image, scale))


def test_channels_are_resized_independently():
    image = np.random.default_rng(1).integers(0, 256, (19, 26, 3), dtype=np.uint8)
    for kwargs in ({"scale": 1 / 3}, {"scale": 3}, {"output_shape": (11, 40)}):
        rgb = imresize(image, **kwargs)
        for c in range(3):
            grey = imresize(np.ascontiguousarray(image[..., c]), **kwargs)
            assert np.array_equal(rgb[..., c], grey)
            assert np.array_equal(imresize(image[..., c : c + 1], **kwargs)[..., 0], grey)


def test_smaller_scale_dimension_goes_first():
    # Rows shrink (scale 0.25) and columns grow (2): MATLAB resizes the rows first. The intermediate
    # image is stored as uint8, so the other order gives other pixels on a noisy image.
    image = np.random.default_rng(2).integers(0, 256, (40, 9), dtype=np.uint8)
    out = imresize(image, output_shape=(10, 18))
    rows_first = imresize(imresize(image, output_shape=(10, 9)), output_shape=(10, 18))
    cols_first = imresize(imresize(image, output_shape=(40, 18)), output_shape=(10, 18))
    assert np.array_equal(out, rows_first) and not np.array_equal(out, cols_first)


def test_thread_count_does_not_change_pixels():
    image = np.random.default_rng(3).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    before = get_threads()
    try:
        set_threads(1)
        one = [imresize(image, scale=s) for s in (1 / 3, 2)]
        set_threads(None)
        many = [imresize(image, scale=s) for s in (1 / 3, 2)]
    finally:
        set_threads(before)
    assert all(np.array_equal(a, b) for a, b in zip(one, many))


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((4, 4), np.float32), {"scale": 2}, r"image: expected a uint8 .* got dtype float32"),
        (np.zeros((2, 4, 4, 3), np.uint8), {"scale": 2}, r"image: expected .* got shape \(2, 4, 4, 3\)"),
        (np.zeros((0, 4), np.uint8), {"scale": 2}, r"image: expected a non-empty image"),
        ([[1, 2]], {"scale": 2}, r"image: expected a numpy array, got list"),
        (np.zeros((4, 4), np.uint8), {"scale": 0}, r"scale: expected a finite number > 0, got 0"),
        (np.zeros((4, 4), np.uint8), {"scale": -0.5}, r"scale: .* got -0.5"),
        (np.zeros((4, 4), np.uint8), {"scale": float("inf")}, r"scale: .* got inf"),
        (np.zeros((4, 4), np.uint8), {"scale": "2"}, r"scale: .* got '2'"),
        (np.zeros((4, 4), np.uint8), {"output_shape": (4, 0)}, r"output_shape: .* got \(4, 0\)"),
        (np.zeros((4, 4), np.uint8), {"output_shape": (4, 4, 3)}, r"output_shape: .* got \(4, 4, 3\)"),
        (np.zeros((4, 4), np.uint8), {"output_shape": (4.0, 2)}, r"output_shape: .* got \(4.0, 2\)"),
        (np.zeros((4, 4), np.uint8), {"scale": 1e5}, r"scale: the output would be 400000x400000 pixels, more than"),
        (np.zeros((4, 4), np.uint8), {"scale": 1e-8}, r"scale: shrinking 4x4 to 1x1 needs 400000002 taps"),
        (np.zeros((4, 4), np.uint8), {}, r"exactly one of scale and output_shape"),
        (np.zeros((4, 4), np.uint8), {"scale": 2, "output_shape": (8, 8)}, r"exactly one of scale and output_shape"),
    ],
)
def test_bad_input_is_named(image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        imresize(image, **kwargs)


# Bicubic baseline on Set5 (Y of BT.601 studio range, `scale` pixels cropped per side), as tabulated
# by SRCNN (Dong et al., TPAMI 2016, Table 2) and VDSR (Kim et al., CVPR 2016, Table 3). This checks
# the pipeline and the PSNR convention; it does not tell MATLAB's borders from Pillow's (the crop
# removes most of them): the per-pixel tests above do.
SET5_BICUBIC = {2: 33.66, 3: 30.39, 4: 28.42}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_set5_bicubic_baseline_matches_the_literature(shared_datasets, scale):
    files = sorted((shared_datasets / "set5").glob("*.png"))
    assert len(files) == 5
    values = []
    for path in files:
        hr = decode_image(path)
        h, w = hr.shape[:2]
        hr = np.ascontiguousarray(hr[: h - h % scale, : w - w % scale])
        lr = imresize(hr, scale=1 / scale)
        sr = imresize(lr, scale=scale)
        assert sr.shape == hr.shape
        values.append(psnr(hr, sr, data_range=255, channel="y_studio", crop_border=scale))
    assert abs(np.mean(values) - SET5_BICUBIC[scale]) <= 0.03
