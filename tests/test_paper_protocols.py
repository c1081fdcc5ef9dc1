"""The paper-protocol tasks, ``jpeg-gray`` and ``sr-bicubic`` (whole images, one sample per level), and their known answers.

The known answers run where ``../shared/datasets`` is present: the "JPEG" input rows of the FBCNN
paper (Jiang, Zhang and Timofte, ICCV 2021, Table 2, grayscale: PSNR | SSIM | PSNR-B), which the
JPEG input itself must reproduce on Classic5 and LIVE1 to 0.01 dB and 0.001; and the "Bicubic" rows
of the SR papers on Set5 (SRCNN; VDSR, CVPR 2016, Table 3: 33.66, 30.39, 28.42 dB at x2, x3, x4),
which the bicubic input must reproduce to 0.03 dB.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pixbench import metrics
from pixbench.degradations import (
    DEGRADATIONS,
    BicubicDownOp,
    GrayJpegOp,
    as_rgb,
    bicubic_pair,
    display_gray,
    gray_plane,
    imresize,
    is_gray,
    jpeg_roundtrip_gray,
    modcrop,
    studio_luma,
)
from pixbench.errors import RecipeError
from pixbench.images import decode_image
from pixbench.recipes import parse_recipe, resolve_recipe
from pixbench.tasks import TASKS, can_score

GRAY = TASKS["jpeg-gray"]
SR = TASKS["sr-bicubic"]
#: FBCNN, ICCV 2021, Table 2 (grayscale), the JPEG rows: quality -> (PSNR, SSIM, PSNR-B).
FBCNN_JPEG = {
    "classic5": {
        10: (27.82, 0.760, 25.21),
        20: (30.12, 0.834, 27.50),
        30: (31.48, 0.867, 28.94),
        40: (32.43, 0.885, 29.92),
    },
    "live1": {
        10: (27.77, 0.773, 25.33),
        20: (30.07, 0.851, 27.57),
        30: (31.41, 0.885, 28.92),
        40: (32.35, 0.904, 29.96),
    },
}


def test_studio_luma_is_matlab_rgb2ycbcr():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [100, 150, 200]]], np.uint8)
    # Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, rounded: 16, 235, 81.481, 144.553, 40.966,
    # 16 + (6548.1 + 19282.95 + 4993.2) / 255 = 136.879...
    assert studio_luma(rgb).tolist() == [[16, 235, 81, 145, 41, 137]]


def test_gray_plane_keeps_gray_sources_and_converts_colour_ones():
    plane = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    assert is_gray(as_rgb(plane))
    kept, how = gray_plane(as_rgb(plane))
    assert how == "source" and np.array_equal(kept, plane)
    colour = as_rgb(plane)
    colour[0, 0] = (255, 0, 0)
    converted, how = gray_plane(colour)
    assert how == "bt601-studio" and converted[0, 0] == 81 and converted[1, 1] == studio_luma(as_rgb(plane))[1, 1]


def test_display_gray_is_pillows_luma_and_exact_on_gray():
    rng = np.random.default_rng(3)
    colour = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    assert np.array_equal(display_gray(colour), np.asarray(Image.fromarray(colour).convert("L")))
    plane = rng.integers(0, 256, (9, 7), dtype=np.uint8)
    assert np.array_equal(display_gray(as_rgb(plane)), plane)


def test_gray_jpeg_is_a_one_component_jpeg():
    rng = np.random.default_rng(4)
    plane = np.clip(rng.normal(128, 40, (40, 48)), 0, 255).astype(np.uint8)
    out = jpeg_roundtrip_gray(plane, quality=10)
    assert out.shape == plane.shape and out.dtype == np.uint8
    # the same pixels as Pillow's own mode-L save and load
    import io

    buf = io.BytesIO()
    Image.fromarray(plane).save(buf, format="JPEG", quality=10)
    with Image.open(io.BytesIO(buf.getvalue())) as img:
        assert img.mode == "L" and np.array_equal(np.asarray(img), out)
    assert metrics.psnr(plane, jpeg_roundtrip_gray(plane, quality=90), data_range=255) > metrics.psnr(
        plane, out, data_range=255
    )
    with pytest.raises(ValueError, match=r"expected an HxW uint8 plane, got shape \(40, 48, 3\)"):
        jpeg_roundtrip_gray(as_rgb(plane), quality=10)
    with pytest.raises(ValueError, match="quality: expected an integer in 1..100, got 0"):
        jpeg_roundtrip_gray(plane, quality=0)


def test_gray_jpeg_op_lists_its_levels():
    op = DEGRADATIONS.get("gray-jpeg")(qualities=(10, 30))
    assert isinstance(op, GrayJpegOp)
    assert op.levels() == [{"quality": 10}, {"quality": 30}]


def test_jpeg_gray_makes_one_sample_per_quality_of_the_whole_image():
    recipe, _ = resolve_recipe("jpeg-gray")
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (37, 45, 3), dtype=np.uint8)
    assert GRAY.samples_per_image(recipe) == 4
    expected = studio_luma(photo)
    for index, quality in enumerate((10, 20, 30, 40)):
        draws = np.random.default_rng(1)
        sample = GRAY.make_sample(photo, recipe, draws, index)
        assert draws.integers(1 << 30) == np.random.default_rng(1).integers(1 << 30)  # nothing drawn
        assert sample.params == {
            "quality": quality,
            "gray": "bt601-studio",
            "crop_x": 0,
            "crop_y": 0,
            "crop_w": 45,
            "crop_h": 37,
        }
        assert np.array_equal(sample.target, as_rgb(expected))
        assert np.array_equal(sample.input, as_rgb(jpeg_roundtrip_gray(expected, quality=quality)))


def test_jpeg_gray_scores_the_gray_plane_with_the_papers_boundary_counts():
    rng = np.random.default_rng(5)
    plane = rng.integers(0, 256, (45, 61), dtype=np.uint8)  # sides not multiples of 8
    decoded = jpeg_roundtrip_gray(plane, quality=20)
    scores = GRAY.image_metrics(as_rgb(plane), as_rgb(decoded), None)
    assert scores["psnr"] == metrics.psnr(plane, decoded, data_range=255)
    assert scores["ssim"] == metrics.ssim(plane, decoded, data_range=255)
    assert scores["psnr_b"] == metrics.psnr_b(plane, decoded, data_range=255, boundary_counts="yim-bovik")
    assert scores["psnr_b"] != metrics.psnr_b(plane, decoded, data_range=255)


def _bef_by_formula(plane: np.ndarray) -> float:
    """Yim and Bovik's BEF written out from the paper, counts ``N_V (N_H / B - 1)`` with real division."""
    x = plane.astype(np.float64)
    h, w = x.shape
    across_cols = [c for c in range(w - 1) if c % 8 == 7]
    across_rows = [r for r in range(h - 1) if r % 8 == 7]
    d = {"cross": 0.0, "inner": 0.0}
    for c in range(w - 1):
        d["cross" if c in across_cols else "inner"] += float(((x[:, c] - x[:, c + 1]) ** 2).sum())
    for r in range(h - 1):
        d["cross" if r in across_rows else "inner"] += float(((x[r] - x[r + 1]) ** 2).sum())
    n_cross = h * (w / 8 - 1) + w * (h / 8 - 1)
    n_inner = h * (w - 1) + w * (h - 1) - n_cross
    gap = d["cross"] / n_cross - d["inner"] / n_inner
    return math.log2(8) / math.log2(min(h, w)) * gap if gap > 0 else 0.0


@pytest.mark.parametrize("shape", [(64, 48), (45, 61)])
def test_psnr_b_yim_bovik_counts_match_the_written_out_formula(shape):
    rng = np.random.default_rng(6)
    plane = rng.integers(0, 256, shape, dtype=np.uint8)
    decoded = jpeg_roundtrip_gray(plane, quality=10)
    mse = float(np.mean((plane.astype(np.float64) - decoded) ** 2))
    expected = 10 * math.log10(255**2 / (mse + _bef_by_formula(decoded)))
    got = metrics.psnr_b(plane, decoded, data_range=255, boundary_counts="yim-bovik")
    assert got == pytest.approx(expected, abs=1e-9)
    pairs = metrics.psnr_b(plane, decoded, data_range=255)
    assert (got == pytest.approx(pairs, abs=1e-12)) == (shape[0] % 8 == 0 and shape[1] % 8 == 0)
    with pytest.raises(ValueError, match="boundary_counts must be one of 'pairs', 'yim-bovik', got 'exact'"):
        metrics.psnr_b(plane, decoded, data_range=255, boundary_counts="exact")


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(FBCNN_JPEG))
def test_jpeg_input_reproduces_the_fbcnn_jpeg_rows(shared_datasets, source):
    recipe, _ = resolve_recipe("jpeg-gray")
    paths = sorted((shared_datasets / source).glob("*.png"))
    assert paths, f"no images in {shared_datasets / source}"
    scores: dict[int, list[dict[str, float]]] = {}
    for path in paths:
        photo = decode_image(path)
        for index in range(GRAY.samples_per_image(recipe)):
            sample = GRAY.make_sample(photo, recipe, np.random.default_rng(0), index)
            scores.setdefault(sample.params["quality"], []).append(
                GRAY.image_metrics(sample.target, sample.input, None)
            )
    for quality, (psnr, ssim, psnr_b) in FBCNN_JPEG[source].items():
        rows = scores[quality]
        assert np.mean([r["psnr"] for r in rows]) == pytest.approx(psnr, abs=0.01), quality
        assert np.mean([r["ssim"] for r in rows]) == pytest.approx(ssim, abs=0.001), quality
        assert np.mean([r["psnr_b"] for r in rows]) == pytest.approx(psnr_b, abs=0.01), quality


def test_modcrop_and_the_bicubic_pair():
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (50, 61, 3), dtype=np.uint8)
    assert modcrop(photo, 4).shape == (48, 60, 3) and np.array_equal(modcrop(photo, 4), photo[:48, :60])
    target, lowres, upscaled = bicubic_pair(photo, 3)
    assert target.shape == (48, 60, 3) and lowres.shape == (16, 20, 3) and upscaled.shape == (48, 60, 3)
    assert np.array_equal(lowres, imresize(target, scale=1 / 3))  # the same pixels as imresize by scale
    assert np.array_equal(upscaled, imresize(lowres, scale=3))
    with pytest.raises(ValueError, match="factor: expected an integer >= 1, got 0"):
        modcrop(photo, 0)
    op = DEGRADATIONS.get("bicubic-down")(factors=(2, 4))
    assert isinstance(op, BicubicDownOp) and op.levels() == [{"factor": 2}, {"factor": 4}]


def test_sr_bicubic_makes_one_sample_per_factor_of_the_whole_image():
    recipe, _ = resolve_recipe("sr-bicubic")
    photo = np.random.default_rng(8).integers(0, 256, (37, 45, 3), dtype=np.uint8)
    assert SR.samples_per_image(recipe) == 3
    # the smallest side keeps an 11x11 SSIM window inside the border at every factor: 19 -> 16 - 8 at x4
    assert SR.min_side(recipe) == 20
    for index, (factor, h, w) in enumerate([(2, 36, 44), (3, 36, 45), (4, 36, 44)]):
        sample = SR.make_sample(photo, recipe, np.random.default_rng(1), index)
        assert sample.params == {"factor": factor, "crop_x": 0, "crop_y": 0, "crop_w": w, "crop_h": h}
        target, lowres, upscaled = bicubic_pair(photo, factor)
        assert np.array_equal(sample.target, target) and np.array_equal(sample.lowres, lowres)
        assert np.array_equal(sample.input, upscaled)
    data = recipe.canonical()
    data["degradations"][0]["factors"] = [2, 2]
    with pytest.raises(RecipeError, match=r"factors must differ \(one sample per factor\), got \[2, 2\]"):
        parse_recipe(data)


def test_sr_bicubic_scores_studio_luma_inside_a_border_of_the_factor():
    rng = np.random.default_rng(9)
    ref = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
    test = np.clip(ref.astype(int) + rng.integers(-6, 7, ref.shape), 0, 255).astype(np.uint8)
    test[:3] = 0  # an error inside the border of x3 only
    scores = SR.sample_metrics(ref, test, None, {"factor": 3})
    assert scores == {
        "psnr": metrics.psnr(ref, test, data_range=255, channel="y_studio", crop_border=3),
        "ssim": metrics.ssim(ref, test, data_range=255, channel="y_studio", crop_border=3),
    }
    assert SR.image_metrics(ref, test, None)["psnr"] < scores["psnr"]  # without the border the rows count
    with pytest.raises(ValueError, match="an sr-bicubic sample needs its factor in the metadata, got None"):
        SR.sample_metrics(ref, test, None, {})
    assert can_score("depixelate", "sr-bicubic") and not can_score("sr-bicubic", "depixelate")


#: VDSR (Kim, Lee and Lee, CVPR 2016), Table 3, the Bicubic rows: factor -> (PSNR, SSIM).
VDSR_BICUBIC = {
    "set5": {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)},
    "set14": {2: (30.24, 0.8688), 3: (27.55, 0.7742), 4: (26.00, 0.7027)},
}


def _bicubic_rows(folder):
    recipe, _ = resolve_recipe("sr-bicubic")
    rows: dict[int, dict[str, list[float]]] = {}
    for path in sorted(folder.glob("*.png")):
        photo = decode_image(path)
        for index in range(SR.samples_per_image(recipe)):
            sample = SR.make_sample(photo, recipe, np.random.default_rng(0), index)
            scores = SR.sample_metrics(sample.target, sample.input, None, sample.params)
            for key, value in scores.items():
                rows.setdefault(sample.params["factor"], {}).setdefault(key, []).append(value)
            rows[sample.params["factor"]].setdefault("name", []).append(path.name)
    return rows


@pytest.mark.slow
def test_bicubic_input_reproduces_the_papers_set5_rows(shared_datasets):
    rows = _bicubic_rows(shared_datasets / "set5")
    for factor, (psnr, ssim) in VDSR_BICUBIC["set5"].items():
        assert np.mean(rows[factor]["psnr"]) == pytest.approx(psnr, abs=0.03), factor
        assert np.mean(rows[factor]["ssim"]) == pytest.approx(ssim, abs=0.001), factor


@pytest.mark.slow
def test_set14_differs_from_the_papers_by_bridge_png_alone(shared_datasets):
    """bridge.png is stored with one channel: the papers score it as its own Y, pixbench as studio-range luma."""
    rows = _bicubic_rows(shared_datasets / "set14")
    shift = 20 * math.log10(255 / 219)  # studio range (16..235) shrinks every difference by 219 / 255
    for factor, (psnr, _) in VDSR_BICUBIC["set14"].items():
        values = rows[factor]["psnr"]
        bridge = rows[factor]["name"].index("bridge.png")
        as_the_papers = [v - shift if i == bridge else v for i, v in enumerate(values)]
        assert np.mean(values) - psnr == pytest.approx(0.09, abs=0.02), factor
        assert np.mean(as_the_papers) == pytest.approx(psnr, abs=0.015), factor


@pytest.mark.slow
def test_evaluate_scores_each_level_and_an_upscaler_of_the_low_res_image(tmp_path):
    """Both tasks end to end on one embedded photo: every level in the breakdown, the identity row equal to
    the input, the SR border applied by evaluate, and a depixelate upscaler scored on one factor."""
    from pixbench.baselines import write_baseline
    from pixbench.builder import build_dataset
    from pixbench.evaluate import EvaluateOptions, evaluate

    quiet = EvaluateOptions(split="train", lpips=False, speed=False)
    for name, column, levels in (("jpeg-gray", "quality", ["10", "20", "30", "40"]), ("sr-bicubic", "factor", ["2", "3", "4"])):  # fmt: skip
        data = build_dataset(resolve_recipe(name)[0], tmp_path / name, limit=1, workers=1).root
        model = write_baseline("identity", tmp_path / f"{name}.onnx", task=name)
        result = evaluate(model, data, tmp_path / f"{name}.json", quiet)
        groups = result.breakdown[column]
        assert sorted(groups, key=int) == levels and all(g["n"] == 1 for g in groups.values())
        assert result.metrics.model["psnr"] == result.metrics.degraded["psnr"]
    # evaluate crops the border of the sample's factor: the x2 row is its input scored with a border of 2
    rows = pd.read_csv(tmp_path / "sr-bicubic" / "train" / "metadata.csv")
    x2 = rows[rows["factor"] == 2].iloc[0]
    target, upscaled = (
        decode_image(tmp_path / "sr-bicubic" / "train" / x2[f"{k}_file_name"]) for k in ("target", "input")
    )
    expected = metrics.psnr(target, upscaled, data_range=255, channel="y_studio", crop_border=2)
    assert groups["2"]["model_psnr"] == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr(target, upscaled, data_range=255, channel="y_studio") != pytest.approx(expected, abs=1e-3)
    bicubic = write_baseline("bicubic", tmp_path / "bicubic-x2.onnx", scale=2)
    scored = evaluate(bicubic, tmp_path / "sr-bicubic", tmp_path / "bicubic.json", EvaluateOptions(
        split="train", lpips=False, speed=False, factor=2))  # fmt: skip
    assert scored.model.assumed["input"] == "lowres" and scored.samples == 1
    # Pillow-style cubic of the same low-res image, edge-padded: within 0.1 dB of MATLAB's upscale
    # (on Set5 the two differ by at most 0.005 dB: docs/tasks/sr-bicubic.md)
    assert scored.metrics.model["psnr"] == pytest.approx(groups["2"]["model_psnr"], abs=0.1)
