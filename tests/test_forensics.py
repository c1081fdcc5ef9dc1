"""The analytic pixelation detector and grid estimator: features, exact grid recovery, ONNX parity."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest

from pixbench.degradations import downscale, jpeg_roundtrip, pixelate, upscale
from pixbench.forensics import features as F
from pixbench.forensics import grid as G
from pixbench.forensics.detector import PARAMS_PATH, DetectorParams
from pixbench.forensics.onnx_detector import build_detector_onnx, save_detector_onnx
from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))  # fitting the detector is a tool, not the package
from detector_fitting import dataset_features, fit_temperature  # noqa: E402


def _texture(seed: int, h: int = 256, w: int = 256) -> np.ndarray:
    """A smooth-plus-noise colour image with content at every scale (no grid of its own)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 128 + 60 * np.sin(xx / 17.0 + seed) * np.cos(yy / 23.0) + 30 * np.sin((xx + 2 * yy) / 7.3)
    img = base[..., None] + rng.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _mosaic(small: np.ndarray, factor: int, phase_x: int, phase_y: int, h: int, w: int) -> np.ndarray:
    """Nearest pixelation with known factor and phase: block j starts at phase + j * factor."""
    big = np.repeat(np.repeat(small, factor, axis=0), factor, axis=1)
    return np.ascontiguousarray(big[factor - phase_y : factor - phase_y + h, factor - phase_x : factor - phase_x + w])


@pytest.mark.parametrize(("factor", "phase_x", "phase_y"), [(2, 0, 1), (4, 3, 0), (7, 2, 5), (16, 9, 0)])
def test_nearest_grid_recovered_exactly(factor: int, phase_x: int, phase_y: int) -> None:
    rng = np.random.default_rng(factor)
    # Random colours: neighbouring blocks always differ, so every boundary is visible.
    small = rng.integers(0, 256, (256 // factor + 3, 256 // factor + 3, 3), dtype=np.uint8)
    image = _mosaic(small, factor, phase_x, phase_y, 200, 240)
    est = G.estimate_grid(image, probability=1.0)
    assert est.kernel_family == "replicating"
    assert est.x.factor == factor and est.y.factor == factor
    assert est.x.phase == phase_x and est.y.phase == phase_y
    low = G.recover_lowres(image, est)
    # Every block is constant, so re-expanding the recovered grid gives the image back exactly.
    ys, xs = G.block_starts(est.y, 200), G.block_starts(est.x, 240)
    rebuilt = np.repeat(np.repeat(low, np.diff(np.append(ys, 200)), axis=0), np.diff(np.append(xs, 240)), axis=1)
    np.testing.assert_array_equal(rebuilt, image)
    # Every recovered pixel is the low-res pixel itself: the crop starts inside block
    # 0 of ``small`` when the phase is non-zero, and exactly at block 1 when it is zero.
    oy, ox = int(phase_y == 0), int(phase_x == 0)
    np.testing.assert_array_equal(low, small[oy : oy + low.shape[0], ox : ox + low.shape[1]])


def test_nearest_grid_with_invisible_boundary_counts_repeated_block() -> None:
    small = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    small[:, 5] = small[:, 4]  # two equal neighbouring columns of blocks: one boundary is invisible
    image = _mosaic(small, 4, 0, 0, 128, 128)
    est = G.estimate_grid(image, probability=1.0)
    assert est.x.factor == 4.0  # widths 4,...,8,...,4 -> 32 blocks over 128 pixels
    np.testing.assert_array_equal(G.block_starts(est.x, 128), np.arange(0, 128, 4))


def test_non_integer_nearest_factor() -> None:
    image = _texture(3, 256, 256)
    # 256 / 37 = 6.919...: Pillow's nearest upscale alternates blocks of 6 and 7 pixels.
    out = upscale(upscale(image, size=(37, 37), kernel="box"), size=(256, 256), kernel="nearest")
    est = G.estimate_grid(out, probability=1.0)
    assert est.kernel_family == "replicating"
    assert est.x.factor == pytest.approx(256 / 37, abs=0.02)
    assert G.recover_lowres(out, est).shape == (37, 37, 3)


def test_real_factor_pixelation_rounds_the_low_res_size_to_nearest() -> None:
    # The detector's samples use real factors: 100 / 6.5 = 15.4 -> 15 and 100 / 8 = 12.5 -> 12
    # (Python's round, half to even), where the recipes' "ceil" gives 16 and 13.
    image = _texture(2, 100, 100)
    assert downscale(image, factor=6.5, kernel="box", rounding="nearest").shape == (15, 15, 3)
    assert downscale(image, factor=8, kernel="box", rounding="nearest").shape == (12, 12, 3)
    assert downscale(image, factor=8, kernel="box").shape == (13, 13, 3)
    out = pixelate(image, factor=6.5, down_kernel="box", up_kernel="nearest", rounding="nearest")
    assert out.shape == image.shape
    with pytest.raises(ValueError, match="factor: expected an integer >= 1, got 6.5"):
        pixelate(image, factor=6.5, down_kernel="box", up_kernel="nearest")
    with pytest.raises(ValueError, match="rounding: expected one of ceil, nearest, got 'floor'"):
        downscale(image, factor=2, kernel="box", rounding="floor")


def test_interpolating_factor_estimated_for_clear_case() -> None:
    image = _texture(1, 256, 256)
    out = pixelate(image, factor=8, down_kernel="box", up_kernel="bicubic")
    est = G.estimate_grid(out, probability=1.0)
    assert est.kernel_family == "interpolating"
    # Pillow bicubic x8: the residue is periodic with period 8 (or its half, 4, on weak content).
    assert min(abs(est.y.factor - 8), abs(est.x.factor - 8)) < 0.1


def test_features_react_to_pixelation_not_content() -> None:
    clean = _texture(0)
    pixelated = pixelate(clean, factor=4, down_kernel="box", up_kernel="nearest")
    fc, fp = F.extract_features(clean), F.extract_features(pixelated)
    assert fc.shape == (F.N_FEATURES,)
    # Feature 12 is the mean zero-difference fraction along x: >= 3/4 for a 4x mosaic
    # (3 of every 4 neighbour pairs are inside a block), and ~1/25 for noise of std 12.
    assert fp[12] >= 0.75
    assert fc[12] < 0.1


@pytest.fixture(scope="module")
def params() -> DetectorParams:
    return DetectorParams.load(PARAMS_PATH)


@pytest.fixture(scope="module")
def session_with_features(params: DetectorParams) -> ort.InferenceSession:
    model = build_detector_onnx(params, features_output=True)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("shape", [(256, 256), (97, 301), (1080 // 2, 1920 // 2 + 3)])
def test_onnx_matches_numpy(params: DetectorParams, session_with_features: ort.InferenceSession, shape) -> None:
    for seed, kernel in enumerate(["nearest", "bicubic", None]):
        image = _texture(seed, *shape)
        if kernel:
            image = pixelate(image, factor=5 + seed, down_kernel="box", up_kernel=kernel, rounding="nearest")
        prob, feats = session_with_features.run(None, {"image": image.transpose(2, 0, 1)[None].astype(np.float32)})
        ref = F.extract_features(image)
        # float32 graph vs float64 reference: log-features agree to ~1e-5; 1e-3 leaves margin.
        np.testing.assert_allclose(feats[0], ref, atol=1e-3, rtol=1e-3)
        assert prob[0, 0] == pytest.approx(params.probability(ref)[0], abs=1e-4)


def test_shipped_detector_separates_synthetic_cases(params: DetectorParams) -> None:
    clean = [_texture(s) for s in range(4)]
    positives = [
        pixelate(c, factor=f, down_kernel="box", up_kernel=k, rounding="nearest")
        for c, f, k in zip(clean, [2, 4, 6.5, 12], ["nearest", "bilinear", "lanczos", "bicubic"], strict=True)
    ]
    negatives = clean + [jpeg_roundtrip(c, quality=60) for c in clean]
    p_pos = params.probability(np.stack([F.extract_features(x) for x in positives]))
    p_neg = params.probability(np.stack([F.extract_features(x) for x in negatives]))
    assert p_pos.min() > 0.9, p_pos
    assert p_neg.max() < 0.1, p_neg


def test_saved_onnx_has_metadata_and_is_small(params: DetectorParams, tmp_path) -> None:
    path = save_detector_onnx(params, tmp_path / "det.onnx")
    model = onnx.load(path)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["pixbench.task"] == "detect" and props["pixbench.output"] == "probability"
    assert props["pixbench.range"] == "255" and props["pixbench.layout"] == "nchw"
    assert path.stat().st_size < 1_000_000


def test_shipped_parameters_rebuild_the_published_graph_byte_for_byte(params: DetectorParams) -> None:
    # graph, weights and props (pixbench.props.GRID_DETECTOR_ORDER): leaderboards/models/grid-detector.onnx
    # was written by tools/fit_grid_detector.py --onnx from these parameters
    published = REPO_ROOT / "leaderboards" / "models" / "grid-detector.onnx"
    assert build_detector_onnx(params).SerializeToString() == published.read_bytes()


def test_params_roundtrip(params: DetectorParams, tmp_path) -> None:
    params.save(tmp_path / "p.npz")
    again = DetectorParams.load(tmp_path / "p.npz")
    x = F.extract_features(_texture(9))
    assert again.probability(x)[0] == params.probability(x)[0]


def test_temperature_fit_recovers_known_scale() -> None:
    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2, 20000)
    labels = (rng.random(20000) < 1 / (1 + np.exp(-true_logit))).astype(int)
    # Logits inflated 3x: the NLL-optimal temperature is 3 (within the 200-point grid's step).
    assert fit_temperature(3 * true_logit, labels) == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize(
    "bad", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), np.zeros((8, 64, 3), np.uint8)]
)
def test_bad_images_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="image: expected"):
        F.extract_features(bad)


def test_missing_params_file_is_a_clear_error(tmp_path) -> None:
    from pixbench.errors import ModelError

    with pytest.raises(ModelError, match="no such file"):
        DetectorParams.load(tmp_path / "nope.npz")


def test_dataset_features_read_every_sample_of_the_asked_splits(tmp_path) -> None:
    """Built detect datasets feed the fit: one feature row per sample of the asked splits, the labels as written."""
    from pixbench.datasets import open_dataset
    from pixbench.errors import PixbenchError
    from tests.synth import write_tiny_dataset

    root = write_tiny_dataset(tmp_path / "d", "detect", n=4, size=64)
    feats, labels = dataset_features([root], ("train", "val"))
    assert feats.shape == (8, F.N_FEATURES) and np.isfinite(feats).all()
    written = pd.concat([pd.read_csv(root / s / "metadata.csv") for s in ("train", "val")])["label"].to_numpy()
    assert labels.tolist() == written.tolist()
    first = next(iter(open_dataset(root).split("train")))
    np.testing.assert_array_equal(feats[0], F.extract_features(first.input))
    assert dataset_features([root], ("nosuch",))[0].shape == (0, F.N_FEATURES)
    other = write_tiny_dataset(tmp_path / "j", "jpeg", n=2, size=64)
    with pytest.raises((ValueError, PixbenchError), match="fitted on 'detect' datasets"):
        dataset_features([other], ("train",))
