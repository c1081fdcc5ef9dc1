"""Degradation ops: hand-checked values, determinism, and sample/apply separation."""

import numpy as np
import pytest

from pixbench.degradations import (
    DEGRADATIONS,
    HolesOp,
    JpegOp,
    PixelateOp,
    block_positions,
    extract_triplets,
    holes_mask,
    jpeg_roundtrip,
    make_holes,
    pixelate,
)


def _image(seed=0, h=64, w=64):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_box_nearest_pixelation_is_the_block_mean():
    img = np.zeros((4, 4, 3), np.uint8)
    img[0, 0], img[0, 1], img[1, 0], img[1, 1] = 10, 20, 30, 40
    out = pixelate(img, factor=2, down_kernel="box", up_kernel="nearest")
    # hand computation: mean(10, 20, 30, 40) = 25; the other blocks are all 0
    assert (out[:2, :2] == 25).all() and (out[2:, :] == 0).all() and (out[:, 2:] == 0).all()
    img[1, 1] = 41
    out = pixelate(img, factor=2, down_kernel="box", up_kernel="nearest")
    # Pillow resamples in two separable 8-bit passes, rounding half up after each:
    # rows (10+20)/2 = 15 and (30+41)/2 = 35.5 -> 36, then (15+36)/2 = 25.5 -> 26
    # (not round(25.25) = 25); docs/recipes.md states this.
    assert (out[:2, :2] == 26).all()


def test_pixelate_keeps_shape_and_makes_flat_blocks():
    img = _image()
    out = pixelate(img, factor=8, down_kernel="box", up_kernel="nearest")
    assert out.shape == img.shape
    blocks = out.reshape(8, 8, 8, 8, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()


def test_pixelate_rejects_bad_kernel_and_factor():
    with pytest.raises(ValueError, match="down_kernel: unknown kernel 'cubic'"):
        pixelate(_image(), factor=2, down_kernel="cubic", up_kernel="nearest")
    with pytest.raises(ValueError, match="factor: expected an integer >= 1"):
        pixelate(_image(), factor=0, down_kernel="box", up_kernel="nearest")


def test_jpeg_quality_orders_the_error():
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.stack([xx * 4, yy * 4, (xx + yy) * 2], -1).astype(np.uint8)
    errors = [np.abs(jpeg_roundtrip(img, quality=q).astype(int) - img).mean() for q in (10, 40, 90)]
    assert errors[0] > errors[1] > errors[2] > 0
    assert (jpeg_roundtrip(img, quality=30) == jpeg_roundtrip(img, quality=30)).all()
    with pytest.raises(ValueError, match="subsampling"):
        jpeg_roundtrip(img, quality=30, subsampling="4:1:1")


def test_holes_inside_frame_and_disjoint():
    for seed in range(50):
        holes = make_holes(np.random.default_rng(seed), height=256, width=256, count=2, hole_size=75)
        mask = holes_mask(256, 256, holes)
        # disjoint and inside the frame <=> the mask has exactly 2 * 75 * 75 hole pixels
        assert (mask == 255).sum() == 2 * 75 * 75
        for x, y, w, h in holes:
            assert 0 <= x <= 256 - 75 and 0 <= y <= 256 - 75 and w == h == 75
    with pytest.raises(ValueError, match="could not place 2 holes"):
        make_holes(np.random.default_rng(0), height=80, width=80, count=2, hole_size=75)


def test_triplets_are_grid_aligned():
    clean = _image(1, 32, 40)
    degraded = _image(2, 32, 40)
    positions = block_positions(32, 40)
    # blocks with a full 24x24 context: x in {8, 16, 24}, y in {8, 16}
    assert positions == [(8, 8), (16, 8), (24, 8), (8, 16), (16, 16), (24, 16)]
    xs, ys = extract_triplets(degraded, clean, positions)
    assert xs.shape == (6, 24, 24, 3) and ys.shape == (6, 8, 8, 3)
    assert (xs[4] == degraded[8:32, 8:32]).all() and (ys[4] == clean[16:24, 16:24]).all()
    with pytest.raises(ValueError, match="off the 8x8 grid"):
        extract_triplets(degraded, clean, [(4, 8)])


def test_ops_sample_then_apply():
    rng = np.random.default_rng(5)
    op = PixelateOp((2, 4), ("box",), ("nearest", "bicubic"))
    params = op.sample(rng)
    assert params["factor"] in (2, 4) and params["up_kernel"] in ("nearest", "bicubic")
    img = _image()
    assert (op.apply(img, params) == pixelate(img, **params)).all()
    again = op.sample(np.random.default_rng(5))
    assert again == params  # same seed, same draw: no hidden global RNG
    jparams = JpegOp((10, 20)).sample(rng)
    assert jparams["subsampling"] == "4:2:0" and jparams["quality"] in (10, 20)
    hparams = HolesOp(2, 10, fill=7).sample(rng, height=64, width=64)
    out = HolesOp(2, 10, fill=7).apply(img, hparams)
    assert (out == 7).all(axis=2).sum() >= 200


def test_registry_names_and_did_you_mean():
    assert DEGRADATIONS.names() == [
        "pixelate",
        "jpeg",
        "holes",
        "gray-jpeg",
        "bicubic-down",
        "textures",
        "mosaic",
        "recompress",
    ]
    with pytest.raises(KeyError, match="did you mean 'pixelate'"):
        DEGRADATIONS.get("pixelat")
