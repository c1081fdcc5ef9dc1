"""PSNR, SSIM, PSNR-B and masked metrics against scikit-image, hand computations and loops."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim

from pixbench.images import decode_image
from pixbench.metrics import masked_metrics, psnr, psnr_b, ssim

SK = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def sk_ssim_rgb(a, b, data_range=255):
    return sk_ssim(a, b, data_range=data_range, channel_axis=-1, **SK)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return decode_image(buf.getvalue())


def quantised(image: np.ndarray) -> np.ndarray:
    """A deterministic distortion with flat regions: keep the top 4 bits."""
    return (image // 16) * 16 + 8


def y_full(image: np.ndarray) -> np.ndarray:
    # BT.601 full-range luma, written out independently of pixbench.
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_ssim_matches_skimage_on_bundled_photos(name):
    ref = getattr(data, name)()
    for test in (jpeg(ref, 20), quantised(ref)):
        assert ssim(ref, test, data_range=255) == pytest.approx(sk_ssim_rgb(ref, test), abs=1e-5)
        # Y: compare with skimage run on independently computed luma planes.
        assert ssim(ref, test, data_range=255, channel="y") == pytest.approx(
            sk_ssim(y_full(ref.astype(float)), y_full(test.astype(float)), data_range=255, **SK), abs=1e-5
        )
        assert ssim(ref, test, data_range=255, channel="y_studio") == pytest.approx(
            sk_ssim(rgb2ycbcr(ref)[..., 0], rgb2ycbcr(test)[..., 0], data_range=255, **SK), abs=1e-5
        )


@pytest.mark.shared
def test_ssim_and_psnr_match_skimage_on_shared_photos(shared_datasets):
    files = sorted(p for p in (shared_datasets / "kodak").rglob("*") if p.suffix.lower() in (".png", ".jpg"))[:2]
    if not files:
        pytest.skip("no Kodak images under ../shared/datasets/kodak")
    for path in files:
        ref = decode_image(path)
        test = jpeg(ref, 30)
        assert ssim(ref, test, data_range=255) == pytest.approx(sk_ssim_rgb(ref, test), abs=1e-5)
        assert psnr(ref, test, data_range=255) == pytest.approx(sk_psnr(ref, test, data_range=255), abs=1e-9)


@pytest.mark.parametrize("shape", [(11, 11), (11, 17), (12, 40, 3), (33, 11, 3)])
def test_ssim_tiny_images_match_skimage(shape):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
    axis = -1 if len(shape) == 3 else None
    want = sk_ssim(a, b, data_range=255, channel_axis=axis, **SK)
    assert ssim(a, b, data_range=255) == pytest.approx(want, abs=1e-5)


def test_ssim_flat_images_match_skimage():
    flat = np.full((32, 32, 3), 200, np.uint8)
    other = np.full((32, 32, 3), 60, np.uint8)
    assert ssim(flat, flat, data_range=255) == pytest.approx(1.0, abs=1e-12)
    assert ssim(flat, other, data_range=255) == pytest.approx(sk_ssim_rgb(flat, other), abs=1e-5)
    # Bright, almost flat: the case where E[x^2] - E[x]^2 loses precision.
    rng = np.random.default_rng(2)
    noisy = (250 + rng.integers(0, 3, (64, 64, 3))).astype(np.uint8)
    bright = np.full((64, 64, 3), 251, np.uint8)
    assert ssim(bright, noisy, data_range=255) == pytest.approx(sk_ssim_rgb(bright, noisy), abs=1e-5)


def test_ssim_float_inputs_and_channel_axis():
    ref = data.astronaut()[:128, :160]
    test = jpeg(ref, 25)
    want = sk_ssim_rgb(ref, test)
    assert ssim(ref / 255.0, test / 255.0, data_range=1.0) == pytest.approx(want, abs=1e-5)
    assert ssim(ref.astype(np.float32), test.astype(np.float32), data_range=255) == pytest.approx(want, abs=1e-5)
    grey = ref[..., 1]
    assert ssim(grey, test[..., 1], data_range=255) == pytest.approx(
        sk_ssim(grey, test[..., 1], data_range=255, **SK), abs=1e-5
    )


def test_ssim_too_small_is_a_clear_error():
    a = np.zeros((10, 30, 3), np.uint8)
    with pytest.raises(ValueError, match="at least 11x11.*10x30"):
        ssim(a, a, data_range=255)


def test_psnr_matches_skimage_and_hand_values():
    ref = data.coffee()
    test = jpeg(ref, 15)
    assert psnr(ref, test, data_range=255) == pytest.approx(sk_psnr(ref, test, data_range=255), abs=1e-9)
    a = np.zeros((4, 4, 3), np.uint8)
    # MSE = 1 -> PSNR = 20 log10(255) = 48.1308036086791 dB (hand computation).
    assert psnr(a, a + 1, data_range=255) == pytest.approx(48.1308036086791, abs=1e-12)
    assert psnr(a / 255.0, (a + 1) / 255.0, data_range=1.0) == pytest.approx(48.1308036086791, abs=1e-9)
    assert psnr(ref, ref, data_range=255) == math.inf


def test_conventions_are_pinned():
    """Fails if RGB/Y, the luma formula, or the border crop changes meaning."""
    ref = data.astronaut()
    test = quantised(ref)
    # Golden values: skimage.metrics on the astronaut photo with its top 4 bits kept;
    # Y planes from the BT.601 formula above, the studio Y from skimage.color.rgb2ycbcr.
    assert psnr(ref, test, data_range=255) == pytest.approx(33.90399925690073, abs=1e-9)
    assert psnr(ref, test, data_range=255, channel="y") == pytest.approx(36.01191109937025, abs=1e-9)
    assert psnr(ref, test, data_range=255, channel="y_studio") == pytest.approx(37.33383241124699, abs=1e-9)
    assert psnr(ref, test, data_range=255, crop_border=4) == pytest.approx(33.92323052871928, abs=1e-9)
    assert ssim(ref, test, data_range=255) == pytest.approx(0.8211227237253566, abs=1e-6)
    assert ssim(ref, test, data_range=255, channel="y") == pytest.approx(0.861959798066543, abs=1e-6)
    assert ssim(ref, test, data_range=255, channel="y_studio") == pytest.approx(0.9615637773847198, abs=1e-6)
    assert ssim(ref, test, data_range=255, crop_border=4) == pytest.approx(0.8236784136906582, abs=1e-6)


def test_psnr_b_hand_computed_step():
    """A 16x16 image whose right half is 4 grey levels up, against a black reference.

    Hand computation: MSE = 16 * 128 / 256 = 8. The only non-zero neighbour
    differences are the 16 horizontal pairs across the block boundary at column 8,
    so D_B = 16 * 16 / 32 = 8 (32 boundary pairs: 16 horizontal + 16 vertical) and
    D_Bc = 0; eta = log2(8) / log2(16) = 0.75, BEF = 6, PSNR-B = 10 log10(255^2 / 14).
    """
    ref = np.zeros((16, 16), np.uint8)
    test = ref.copy()
    test[:, 8:] = 4
    assert psnr_b(ref, test, data_range=255) == pytest.approx(36.66952325189672, abs=1e-9)
    # The step at column 4 is inside a block: D_B = 0 < D_Bc, so BEF = 0 and PSNR-B = PSNR.
    inner = ref.copy()
    inner[:, 4:] = 4
    assert psnr_b(ref, inner, data_range=255) == pytest.approx(psnr(ref, inner, data_range=255), abs=1e-12)


def psnr_b_loops(ref: np.ndarray, test: np.ndarray, block: int = 8) -> float:
    """Yim & Bovik (2011) written from the paper's counts, with explicit loops over pairs."""
    x = ref.astype(float)
    y = test.astype(float)
    n_v, n_h = y.shape
    n_hb = n_v * (n_h / block - 1)
    n_vb = n_h * (n_v / block - 1)
    n_hbc = n_v * (n_h - 1) - n_hb
    n_vbc = n_h * (n_v - 1) - n_vb
    d_b = d_bc = 0.0
    for i in range(n_v):
        for j in range(n_h - 1):
            sq = (y[i, j] - y[i, j + 1]) ** 2
            if (j + 1) % block == 0:
                d_b += sq
            else:
                d_bc += sq
    for i in range(n_v - 1):
        for j in range(n_h):
            sq = (y[i, j] - y[i + 1, j]) ** 2
            if (i + 1) % block == 0:
                d_b += sq
            else:
                d_bc += sq
    d_b /= n_hb + n_vb
    d_bc /= n_hbc + n_vbc
    eta = math.log2(block) / math.log2(min(n_h, n_v))
    bef = eta * (d_b - d_bc) if d_b > d_bc else 0.0
    mse = np.mean((x - y) ** 2)
    return 10 * math.log10(255**2 / (mse + bef))


def test_psnr_b_matches_loop_rederivation_on_jpeg():
    ref = data.camera()[128:256, 64:256]  # 128x192, a multiple of 8
    test = jpeg(np.repeat(ref[..., None], 3, 2), 10)[..., 0]
    got = psnr_b(ref, test, data_range=255)
    assert got == pytest.approx(psnr_b_loops(ref, test), abs=1e-9)
    assert got < psnr(ref, test, data_range=255)  # JPEG q10 is blocky: BEF > 0
    # On colour images the default is the full-range Y plane.
    rgb = data.coffee()[:96, :160]
    comp = jpeg(rgb, 10)
    assert psnr_b(rgb, comp, data_range=255) == pytest.approx(
        psnr_b_loops(y_full(rgb.astype(float)), y_full(comp.astype(float))), abs=1e-9
    )


def test_masked_metrics_hand_values():
    ref = np.zeros((4, 4, 3), np.uint8)
    test = ref.copy()
    test[0, 0] = 10  # one hole pixel off by 10 in all channels
    test[3, 3] = 2  # one pixel outside the hole off by 2
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    out = masked_metrics(ref, test, mask, data_range=255)
    # Hole: 4 pixels x 3 channels, squares 100 in 3 entries -> 300 / 12 = 25; L1 30 / 12 = 2.5.
    assert out["mse_hole"] == pytest.approx(25.0)
    assert out["l1_hole"] == pytest.approx(2.5)
    assert out["psnr_hole"] == pytest.approx(10 * math.log10(255**2 / 25))
    # Full: 48 entries, (300 + 12) / 48 = 6.5; L1 (30 + 6) / 48 = 0.75.
    assert out["mse_full"] == pytest.approx(6.5)
    assert out["l1_full"] == pytest.approx(0.75)
    assert masked_metrics(ref, test, mask.astype(np.uint8) * 255, data_range=255) == out
    with pytest.raises(ValueError, match="no hole"):
        masked_metrics(ref, test, np.zeros((4, 4), bool), data_range=255)
    with pytest.raises(ValueError, match=r"mask shape \(4, 5\)"):
        masked_metrics(ref, test, np.zeros((4, 5), bool), data_range=255)


@pytest.mark.parametrize("fn", [psnr, ssim, psnr_b])
def test_bad_inputs_are_value_errors(fn):
    a = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match=r"reference \(16, 16, 3\), test \(16, 17, 3\)"):
        fn(a, np.zeros((16, 17, 3), np.uint8), data_range=255)
    with pytest.raises(ValueError, match="non-finite"):
        fn(a / 255.0, np.full((16, 16, 3), np.nan), data_range=1.0)
    with pytest.raises(ValueError, match=r"test: values span \[255, 255\], outside data_range=1"):
        fn(a / 255.0, a.astype(float) + 255, data_range=1.0)
    with pytest.raises(ValueError, match="uint8 images need data_range=255"):
        fn(a, a, data_range=1.0)
    with pytest.raises(ValueError, match="dtype int32"):
        fn(a.astype(np.int32), a.astype(np.int32), data_range=255)
    with pytest.raises(ValueError, match=r"HxWx3 or HxW image, got shape \(3, 16, 16\)"):
        fn(a.transpose(2, 0, 1), a.transpose(2, 0, 1), data_range=255)
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        fn(a, a, data_range=0)
    with pytest.raises(ValueError, match="channel must be one of"):
        fn(a, a, data_range=255, channel="ycbcr")
