"""Compiled tensor conversions: each kernel against the plain numpy expression it documents, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from pixbench.errors import ModelError
from pixbench.runtime import kernels
from pixbench.runtime.tiling import positions, ramp

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def small_jobs(monkeypatch):
    """Cut even these small arrays into several jobs, so ``threads=2`` really splits the work."""
    monkeypatch.setattr(kernels, "MIN_JOB", 256)


@pytest.mark.parametrize("nchw", [True, False])
@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("threads", [1, 2])
def test_pack_matches_numpy(nchw, channels, threads):
    src = RNG.integers(0, 256, (2, 37, 41, channels), dtype=np.uint8)
    mul, add = 2 / 255.0, -1.0
    dst = np.full((2, channels + 1, 37, 41) if nchw else (2, 37, 41, channels + 1), 7.0, np.float32)
    kernels.pack(src, dst, nchw=nchw, mul=mul, add=add, threads=threads)
    want = src.astype(np.float32) * np.float32(mul) + np.float32(add)
    got = dst.transpose(0, 2, 3, 1) if nchw else dst
    np.testing.assert_array_equal(got[..., :channels], want)
    assert np.all(got[..., channels:] == 7.0)  # the spare (mask) channel is left alone


@pytest.mark.parametrize("nchw", [True, False])
@pytest.mark.parametrize("channels", [3, 1])
def test_pack_tiles_matches_numpy_crops(nchw, channels):
    image = RNG.integers(0, 256, (50, 70, channels), dtype=np.uint8)
    origins = np.array([(0, 0), (0, 38), (18, 21), (18, 38)], np.int64)
    dst = np.empty((4, channels, 32, 32) if nchw else (4, 32, 32, channels), np.float32)
    kernels.pack_tiles(image, origins, dst, nchw=nchw, mul=1 / 255.0, add=0.0, threads=2)
    for t, (y, x) in enumerate(origins):
        want = image[y : y + 32, x : x + 32].astype(np.float32) * np.float32(1 / 255.0)
        np.testing.assert_array_equal(dst[t].transpose(1, 2, 0) if nchw else dst[t], want)


@pytest.mark.parametrize("planar", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_to_image_rounds_half_to_even_and_clips_like_numpy(planar, threads):
    values = (RNG.random((3, 40, 33)) * 300 - 20).astype(np.float32)
    src = values if planar else np.ascontiguousarray(values.transpose(1, 2, 0))
    got = kernels.to_image(src, planar=planar, sub=10.0, mul=0.75, threads=threads)
    hwc = values.transpose(1, 2, 0)
    want = np.clip(np.rint((hwc - np.float32(10.0)) * np.float32(0.75)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(got, want)


def test_to_image_ties_go_to_even():
    row = np.array([[[0.5, 1.5, 2.5, 254.5, -0.4, 255.6]]], np.float32)  # CxHxW = 1x1x6
    assert kernels.to_image(row, planar=True, sub=0.0)[0, :, 0].tolist() == [0, 2, 2, 254, 0, 255]


def test_to_image_reads_a_strided_corner():
    acc = (RNG.random((3, 30, 40)) * 255).astype(np.float32)
    got = kernels.to_image(acc[:, :25, :31], planar=True, sub=0.0)
    np.testing.assert_array_equal(got, np.rint(acc[:, :25, :31].transpose(1, 2, 0)).astype(np.uint8))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("planar", [True, False])
def test_to_image_refuses_nan_and_inf(bad, planar):
    src = np.zeros((3, 20, 20) if planar else (20, 20, 3), np.float32)
    src[1, 17, 2] = bad
    with pytest.raises(ModelError, match="NaN or Inf"):
        kernels.to_image(src, planar=planar, sub=0.0, threads=2)


@pytest.mark.parametrize("nchw", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_accumulate_blends_like_numpy_without_clearing(nchw, threads):
    """Overlapping tiles in row-major order: the first tile over a pixel sets it, so ``acc``
    may start as garbage (NaN here); the result equals the numpy weighted sum."""
    th = tw = 16
    ov = 4
    h, w, c = 40, 45, 3
    where = [(y, x) for y in positions(h, th, ov) for x in positions(w, tw, ov)]
    origins = np.array(where, np.int64)
    wy, wx = ramp(th, ov), ramp(tw, ov)
    ry = np.tile(wy, (len(where), 1)) * np.float32(0.5)
    rx = np.tile(wx, (len(where), 1))
    fresh = kernels.first_cover(origins, (th, tw))
    # Columns start at 0, 12, 24, 29: each tile is new from the previous one's right edge on.
    assert fresh[:4].tolist() == [[0, 0], [0, 16], [0, 28], [0, 40]]
    assert fresh[4].tolist() == [16, 0]  # the second row of tiles is new below the first row
    out = RNG.random((len(where), c, th, tw) if nchw else (len(where), th, tw, c), dtype=np.float32)
    acc = np.full((c, h, w) if nchw else (h, w, c), np.nan, np.float32)
    half = len(where) // 2  # two items, as the runner passes batches
    items = [(out[s], origins[s], fresh[s], ry[s], rx[s]) for s in (slice(0, half), slice(half, None))]
    kernels.accumulate(items, acc, nchw=nchw, threads=threads)
    want = np.zeros((h, w, c), np.float32)
    for t, (y, x) in enumerate(where):
        tile = out[t].transpose(1, 2, 0) if nchw else out[t]
        want[y : y + th, x : x + tw] += tile * (ry[t][:, None] * rx[t])[..., None]
    np.testing.assert_array_equal(acc.transpose(1, 2, 0) if nchw else acc, want)


def test_uint8_copies_both_ways():
    """A uint8 model (range 255) gets a plain transposing copy, and its uint8 output comes back as is."""
    src = RNG.integers(0, 256, (1, 21, 34, 3), dtype=np.uint8)
    planes = np.empty((1, 3, 21, 34), np.uint8)
    kernels.pack(src, planes, nchw=True, mul=1.0, add=0.0, threads=2)
    np.testing.assert_array_equal(planes[0], src[0].transpose(2, 0, 1))
    np.testing.assert_array_equal(kernels.to_image(planes[0], planar=True, sub=0.0, threads=2), src[0])


def test_views_of_images_are_accepted():
    """A strided view (a flipped or subsampled image) converts like a copy of it."""
    img = RNG.integers(0, 256, (1, 20, 30, 3), dtype=np.uint8)
    view = img[:, :, ::-2]
    dst = np.empty((1, 3, 20, 15), np.float32)
    kernels.pack(view, dst, nchw=True, mul=1 / 255.0, add=0.0)
    np.testing.assert_array_equal(dst[0], view[0].transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255.0))
    tiles = np.empty((1, 3, 8, 8), np.float32)
    kernels.pack_tiles(view[0], np.array([[4, 5]]), tiles, nchw=True, mul=1.0, add=0.0)
    np.testing.assert_array_equal(tiles[0], view[0, 4:12, 5:13].transpose(2, 0, 1))
