"""The pixel door: one conversion rule to RGB uint8, and clear errors for bad files."""

import io

import numpy as np
import pytest
from PIL import Image

from pixbench.errors import ImageDecodeError
from pixbench.images import decode_image, encode_png, pixel_sha256, read_png, write_png


def _encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_grey_l_is_replicated_to_three_channels():
    arr = np.array([[0, 128], [200, 255]], np.uint8)
    out = decode_image(_encode(Image.fromarray(arr, "L")))
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert (out == arr[..., None]).all()


def test_sixteen_bit_grey_is_shifted_by_eight_bits():
    arr = np.array([[0, 256], [65535, 32768]], np.uint16)
    out = decode_image(_encode(Image.fromarray(arr)))  # a 16-bit greyscale PNG
    # the documented rule: value >> 8 (so 256 -> 1, 65535 -> 255, 32768 -> 128)
    assert out[..., 0].tolist() == [[0, 1], [255, 128]]


def test_alpha_is_composited_on_white():
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red
    rgba[0, 1] = (0, 0, 0, 0)  # fully transparent black becomes white
    out = decode_image(_encode(Image.fromarray(rgba, "RGBA")))
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 1].tolist() == [255, 255, 255]
    la = Image.fromarray(np.array([[[0, 0]]], np.uint8), "LA")
    assert decode_image(_encode(la))[0, 0].tolist() == [255, 255, 255]


def test_palette_with_transparency_is_composited():
    img = Image.new("P", (2, 1))
    img.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    img.info["transparency"] = 1
    out = decode_image(_encode(img, transparency=1))
    assert out[0, 0].tolist() == [10, 20, 30] and out[0, 1].tolist() == [255, 255, 255]


def test_cmyk_uses_pillow_conversion():
    img = Image.new("CMYK", (1, 1), (0, 255, 255, 0))  # no black, full magenta+yellow = red
    out = decode_image(_encode(img, "JPEG", quality=100))
    assert out[0, 0, 0] > 240 and out[0, 0, 1] < 15 and out[0, 0, 2] < 15


def test_exif_orientation_is_applied():
    arr = np.zeros((2, 3, 3), np.uint8)
    arr[0, 0] = 255  # white top-left pixel in a 3-wide, 2-high image
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = decode_image(_encode(img, exif=exif.tobytes()))
    assert out.shape == (3, 2, 3)
    # rotating 90 degrees clockwise moves the top-left pixel to the top-right
    assert out[0, 1].tolist() == [255, 255, 255] and out[0, 0].tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "empty file"),
        (b"this is not an image", "cannot decode"),
    ],
)
def test_bad_bytes(data, match):
    with pytest.raises(ImageDecodeError, match=match):
        decode_image(data)


def test_truncated_png(tmp_path):
    good = _encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    path = tmp_path / "cut.png"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ImageDecodeError, match="cut.png: cannot decode"):
        decode_image(path)


def test_missing_file_is_a_decode_error(tmp_path):
    with pytest.raises(ImageDecodeError, match="cannot read file"):
        decode_image(tmp_path / "nope.png")


def test_decompression_bomb_guard():
    data = _encode(Image.new("RGB", (100, 100)))
    with pytest.raises(ImageDecodeError, match="10000 pixels exceeds the limit of 9999"):
        decode_image(data, max_pixels=9999)


def test_png_round_trip_is_lossless_and_deterministic(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    write_png(tmp_path / "a.png", arr)
    write_png(tmp_path / "b.png", arr)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (read_png(tmp_path / "a.png") == arr).all()
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ValueError, match=r"got shape \(3, 4\) float64"):
        encode_png(np.zeros((3, 4)))


def test_pixel_sha256_ignores_encoding_but_not_shape():
    arr = np.arange(2 * 6 * 3, dtype=np.uint8).reshape(2, 6, 3)
    a = decode_image(_encode(Image.fromarray(arr), compress_level=0))
    b = decode_image(_encode(Image.fromarray(arr), compress_level=9))
    assert pixel_sha256(a) == pixel_sha256(b)
    assert pixel_sha256(arr) != pixel_sha256(arr.reshape(6, 2, 3))
