"""Baselines: real ONNX files (and the biharmonic Python model) checked against independent references."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixbench.baselines import cubic_kernel, lanczos_kernel, pushpull, write_baseline
from pixbench.cli import app
from pixbench.errors import ModelError
from pixbench.registry import UnknownNameError
from pixbench.runtime import Runner, load_model, resolve_spec
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("name, pil_filter", [("bicubic", Image.BICUBIC), ("lanczos", Image.LANCZOS)])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_upscalers_match_pillow_away_from_the_border(tmp_path, name, pil_filter, scale):
    model = load_model(write_baseline(name, tmp_path / f"{name}.onnx", scale=scale))
    low = np.random.default_rng(scale).random((14, 18, 3), dtype=np.float32)
    out = model.run({"x": low.transpose(2, 0, 1)[None]})[0][0].transpose(1, 2, 0)
    # Reference: Pillow's float ("F" mode) resize, which has no uint8 rounding between its two passes.
    ref = np.stack(
        [np.asarray(Image.fromarray(low[..., c], "F").resize((18 * scale, 14 * scale), pil_filter)) for c in range(3)],
        axis=-1,
    )
    assert out.shape == ref.shape
    inner = slice(3 * scale, -3 * scale)  # Pillow renormalises at the border where pixbench edge-pads
    np.testing.assert_allclose(out[inner, inner], ref[inner, inner], atol=1e-5)


@pytest.mark.parametrize("kernel", [cubic_kernel, lanczos_kernel])
def test_kernel_phases_sum_to_one(kernel):
    taps, t0 = kernel(4)
    t = np.arange(t0, t0 + len(taps))
    for phase in range(4):
        assert taps[t % 4 == phase].sum() == pytest.approx(1.0, abs=1e-6)


def test_upscaler_through_the_runner_matches_pillow_uint8_interior(tmp_path):
    model = load_model(write_baseline("bicubic", tmp_path / "b.onnx", scale=2))
    spec = resolve_spec(model, "depixelate")
    assert (spec.input, spec.scale, spec.sources["input"]) == ("lowres", 2, "metadata")
    yy, xx = np.mgrid[0:16, 0:16]
    low = np.stack([xx * 10, yy * 12, xx + yy * 5], -1).astype(np.uint8)  # smooth: no clipping in Pillow's passes
    out = Runner(model, spec).restore(np.zeros((32, 32, 3), np.uint8), lowres=low)
    ref = np.asarray(Image.fromarray(low).resize((32, 32), Image.BICUBIC))
    assert np.abs(out[6:-6, 6:-6].astype(int) - ref[6:-6, 6:-6]).max() <= 1  # Pillow uses fixed-point weights


@pytest.mark.parametrize("task", ["depixelate", "jpeg", "blockcnn", "inpaint"])
def test_identity_returns_the_degraded_input(tmp_path, task):
    model = load_model(write_baseline("identity", tmp_path / "i.onnx", task=task))
    spec = resolve_spec(model, task)
    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    mask = np.zeros((40, 48), bool)
    mask[5:15, 5:15] = True
    out = Runner(model, spec).restore(img, mask=mask if task == "inpaint" else None)
    np.testing.assert_array_equal(out, img)


def test_constant_detector(tmp_path):
    model = load_model(write_baseline("constant", tmp_path / "c.onnx", value=0.25))
    out = model.run({"x": np.random.default_rng(0).random((3, 3, 10, 12), dtype=np.float32)})[0]
    np.testing.assert_allclose(out, np.full((3, 1), 0.25))
    with pytest.raises(ModelError, match="not a probability"):
        write_baseline("constant", tmp_path / "bad.onnx", value=2.0)


def ramp_with_hole(shape, steps, hole):
    """A smooth colour ramp (red along x, green along y, blue along both), its hole mask, and the holed image."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.stack([xx * steps[0], yy * steps[1], (xx + yy) * steps[2]], -1).astype(np.uint8)
    mask = np.zeros(shape, bool)
    mask[hole] = True
    holed = img.copy()
    holed[mask] = 0
    return img, mask, holed


def test_biharmonic_python_model_equals_skimage(tmp_path):
    from skimage.restoration import inpaint_biharmonic

    path = write_baseline("biharmonic", tmp_path / "bh.json")
    assert json.loads(path.read_text())["format"] == "pixbench-python-model"
    model = load_model(path)
    spec = resolve_spec(model, "inpaint")
    assert (spec.layout, spec.mask_input, spec.mask_name) == ("nhwc", "separate", "mask")
    img, mask, holed = ramp_with_hole((32, 32), (7, 7, 3), (slice(10, 18), slice(12, 20)))
    out = Runner(model, spec).restore(holed, mask=mask)
    ref = inpaint_biharmonic(holed / 255.0, mask, channel_axis=-1)  # the reference implementation itself
    np.testing.assert_array_equal(out, np.clip(np.rint(ref * 255), 0, 255).astype(np.uint8))
    assert np.abs(out[mask].astype(int) - img[mask]).mean() < 3  # a linear ramp is biharmonic: near-exact fill


def test_unknown_baseline_suggests_names(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'lanczos'"):
        write_baseline("lanczoz", tmp_path / "x.onnx")


def test_cli_writes_and_lists(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["baseline", "lanczos", "--scale", "2", "-o", str(tmp_path / "l.onnx")])
    assert res.exit_code == 0, res.output
    assert load_model(tmp_path / "l.onnx").props["pixbench.scale"] == "2"
    res = runner.invoke(app, ["baseline"])
    assert res.exit_code == 0 and "biharmonic" in res.output
    res = runner.invoke(app, ["baseline", "bicubic", "--scale", "1", "-o", str(tmp_path / "b.onnx")])
    assert res.exit_code == 1 and "--scale 1 must be an integer from 2 to 16" in res.output
    assert not (tmp_path / "b.onnx").exists()


def _push_pull_by_hand(image: np.ndarray, known: np.ndarray, levels: int) -> np.ndarray:
    """The push-pull fill of docs/models.md in plain numpy (2x2 means of the real pixels, bilinear up)."""
    from PIL import Image as PILImage

    def pool(a):  # 2x2 means over the pixels that exist (ceil mode)
        h, w = a.shape[:2]
        padded = np.full(((h + 1) // 2 * 2, (w + 1) // 2 * 2, a.shape[2]), np.nan)
        padded[:h, :w] = a
        return np.nanmean(padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2, -1), axis=(1, 3))

    values, shares = [image * known], [known]
    for _ in range(levels):
        values.append(pool(values[-1]))
        shares.append(pool(shares[-1]))
    fill = values[-1] / np.maximum(shares[-1], 1e-6)
    for value, share in zip(reversed(values[:-1]), reversed(shares[:-1])):
        h, w = value.shape[:2]
        up = np.stack(
            [
                np.asarray(PILImage.fromarray(fill[..., c].astype(np.float32), "F").resize((w, h), PILImage.BILINEAR))
                for c in range(fill.shape[2])
            ],
            -1,
        )
        fill = value + up * (1 - share)
    return image * known + fill * (1 - known)


def test_pushpull_fills_holes_from_the_known_pixels(tmp_path):
    path = write_baseline("pushpull", tmp_path / "pp.onnx")
    model = load_model(path)
    spec = resolve_spec(model, "inpaint")
    assert spec.mask_input == "channel"
    img, mask, holed = ramp_with_hole((48, 64), (3, 4, 2), (slice(10, 30), slice(20, 44)))
    out = Runner(model, spec).restore(holed, mask=mask)
    np.testing.assert_array_equal(out[~mask], img[~mask])  # known pixels kept
    known = (~mask).astype(np.float64)[..., None]
    ref = _push_pull_by_hand(holed / 255.0, known, levels=8)
    # Pillow's float bilinear upsampling is the same half-pixel rule; rounding to 8 bits may differ by one level
    assert np.abs(out.astype(int) - np.rint(np.clip(ref, 0, 1) * 255).astype(int)).max() <= 1
    assert np.abs(out[mask].astype(int) - img[mask]).mean() < 12  # a smooth ramp: a close fill (zero-fill is ~70 off)
    with pytest.raises(ModelError, match="levels must be an integer"):
        pushpull(levels=0)


PUBLISHED = REPO_ROOT / "leaderboards" / "models"


@pytest.mark.parametrize(
    ("published", "name", "options"),
    [
        ("jpeg/identity.onnx", "identity", {"task": "jpeg"}),
        ("depixelate-nearest-x4/identity.onnx", "identity", {"task": "depixelate"}),
        ("blockcnn-triplets/identity.onnx", "identity", {"task": "blockcnn"}),
        ("inpaint-2x75/identity.onnx", "identity", {"task": "inpaint"}),
        ("depixelate-nearest-x4/bicubic-x4.onnx", "bicubic", {"scale": 4}),
        ("depixelate-lanczos-x4/lanczos-x4.onnx", "lanczos", {"scale": 4}),
        ("detect/constant.onnx", "constant", {"value": 1.0}),
        ("inpaint-2x75/pushpull.onnx", "pushpull", {}),
        ("inpaint-2x75/biharmonic.json", "biharmonic", {}),
    ],
)
def test_published_baselines_are_rebuilt_byte_for_byte(tmp_path, published, name, options):
    # graphs and props (pixbench.props.BASELINE_ORDER) as `pixbench baseline` wrote the published files
    out = write_baseline(name, tmp_path / Path(published).name, **options)
    assert out.read_bytes() == (PUBLISHED / published).read_bytes()


def test_identity_takes_only_restoration_tasks(tmp_path):
    with pytest.raises(ModelError, match="identity baseline: task 'detect' is not one of depixelate, jpeg"):
        write_baseline("identity", tmp_path / "i.onnx", task="detect")
