"""`pixbench evaluate` end to end on tiny datasets, with models built in the tests.

Reported numbers are checked against a direct computation: the test runs the
same model on the same inputs with onnxruntime itself and calls the metrics
module on those outputs.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from onnx import helper, numpy_helper
from PIL import Image
from typer.testing import CliRunner

from pixbench import metrics
from pixbench.baselines import write_baseline
from pixbench.cli import app
from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError, ModelError
from pixbench.evaluate import EvaluateOptions, evaluate
from pixbench.results import Result, read_result, result_json
from tests.synth import reseal, write_tiny_dataset
from tests.test_runtime import FLOAT, UINT8, affine_model, mean_detector, save_model

QUICK = EvaluateOptions(speed=False, lpips=False)


def run(model, dataset, tmp_path, options=QUICK, name="r"):
    out = tmp_path / f"{name}.json"
    evaluate(model, dataset, out, options)
    return json.loads(out.read_text()), out


def direct_psnr(model_path, dataset, *, layout, mul_in, add_in, dtype=np.float32):
    """PSNR mean computed outside pixbench's runner: raw onnxruntime + metrics.psnr."""
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    values = []
    for sample in open_dataset(dataset).split("test"):
        x = sample.input.astype(np.float32) * mul_in + add_in
        x = x[None] if layout == "nhwc" else x.transpose(2, 0, 1)[None]
        y = sess.run(None, {sess.get_inputs()[0].name: x.astype(dtype)})[0][0]
        y = y if layout == "nhwc" else y.transpose(1, 2, 0)
        out = np.clip(np.rint((y - add_in) / mul_in), 0, 255).astype(np.uint8)
        values.append(metrics.psnr(sample.target, out, data_range=255))
    return float(np.mean(values))


@pytest.mark.parametrize(
    "layout, range_, mul_in, add_in", [("nchw", "01", 1 / 255, 0.0), ("nhwc", "11", 2 / 255, -1.0)]
)
def test_reported_psnr_matches_direct_computation(tmp_path, layout, range_, mul_in, add_in):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=3, size=32)
    model = affine_model(tmp_path / "m.onnx", layout=layout, mul=0.9, add=0.05, props={"pixbench.range": range_})
    doc, _ = run(model, ds, tmp_path)
    assert doc["model"]["assumed"]["layout"] == layout
    assert doc["metrics"]["model"]["psnr"] == pytest.approx(
        direct_psnr(model, ds, layout=layout, mul_in=mul_in, add_in=add_in), abs=1e-9
    )
    # The degraded input is scored with the same metrics.
    deg = [metrics.psnr(s.target, s.input, data_range=255) for s in open_dataset(ds).split("test")]
    assert doc["metrics"]["degraded"]["psnr"] == pytest.approx(np.mean(deg), abs=1e-9)
    assert {"psnr", "ssim", "psnr_b"} <= set(doc["metrics"]["model"])
    rows = pd.read_csv(tmp_path / "r.samples.csv", dtype={"sample_id": str})
    assert list(rows["sample_id"]) == ["test0000", "test0001", "test0002"]
    assert rows["model_psnr"].mean() == pytest.approx(doc["metrics"]["model"]["psnr"])


def test_uint8_nhwc_fixed_size_model_is_tiled(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=2, size=64)
    model = affine_model(tmp_path / "u8.onnx", layout="nhwc", size=(24, 24), dtype=UINT8, batch=1)
    doc, _ = run(model, ds, tmp_path)
    assert doc["model"]["assumed"] == {"layout": "nhwc", "range": "255", "channels": "rgb", "size": [24, 24]}
    assert doc["settings"]["tile"] == [24, 24]
    assert doc["metrics"]["model"]["psnr"] == pytest.approx(doc["metrics"]["degraded"]["psnr"])  # identity


def test_identity_baseline_crops_and_deterministic_json(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=5, size=48)
    model = write_baseline("identity", tmp_path / "id.onnx", task="jpeg")
    doc, out = run(model, ds, tmp_path, name="a")
    first = out.read_bytes()
    again, _ = run(model, ds, tmp_path, name="a")
    # identical runs, identical files but for the one timestamp, the UTC date of the run (no absolute paths)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", again["environment"].pop("date"))
    doc["environment"].pop("date")
    assert again == doc
    assert doc["metrics"]["model"]["psnr"] == doc["metrics"]["degraded"]["psnr"]
    per_crop = doc["crops"].pop("per_crop")
    assert doc["crops"] == {
        "file": "a.crops.png",
        "size": 48,
        "samples": ["test0000", "test0001", "test0002", "test0003"],
        "rows": ["degraded", "model", "target"],
    }
    assert [c["source"] for c in per_crop] == ["img0", "img1", "img2", "img3"]  # one sample per source photo
    assert all(c["model_psnr"] == c["degraded_psnr"] for c in per_crop)  # the identity returns its input
    strip = np.asarray(Image.open(tmp_path / "a.crops.png"))
    assert strip.shape == (3 * 48, 4 * 48, 3)
    sample = open_dataset(ds).split("test")[2]
    np.testing.assert_array_equal(strip[96:144, 96:144], sample.target)  # row 2 = target, column 2 = sample 2
    np.testing.assert_array_equal(strip[:48, 96:144], sample.input)
    assert str(tmp_path) not in first.decode()


def naive_psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """``10 log10(255^2 / MSE)`` over all pixels and channels, written out (the textbook formula)."""
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_crops_come_from_different_photos_with_their_own_psnr(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "depixelate", n=7, size=32, factor=4)
    meta = pd.read_csv(ds / "test" / "metadata.csv", keep_default_na=False, dtype=str)
    meta["source_id"] = ["a.png", "a.png", "b.png", "a.png", "c.png", "b.png", "d.png"]
    meta.to_csv(ds / "test" / "metadata.csv", index=False)
    reseal(ds)
    model = write_baseline("bicubic", tmp_path / "b4.onnx", scale=4)
    doc, out = run(model, ds, tmp_path)
    crops = doc["crops"]
    # the first sample of each of the first four photos, in sample order
    assert crops["samples"] == ["test0000", "test0002", "test0004", "test0006"]
    assert [c["sample_id"] for c in crops["per_crop"]] == crops["samples"]
    assert [c["source"] for c in crops["per_crop"]] == ["a.png", "b.png", "c.png", "d.png"]
    strip = np.asarray(Image.open(out.with_name("r.crops.png")))
    assert strip.shape == (3 * 32, 4 * 32, 3)
    rows = pd.read_csv(out.with_name("r.samples.csv"), dtype={"sample_id": str}).set_index("sample_id")
    for column, entry in enumerate(crops["per_crop"]):
        degraded, output, clean = (strip[r * 32 : (r + 1) * 32, column * 32 : (column + 1) * 32] for r in range(3))
        assert entry["model_psnr"] == pytest.approx(naive_psnr(clean, output), abs=1e-9)
        assert entry["degraded_psnr"] == pytest.approx(naive_psnr(clean, degraded), abs=1e-9)
        # the crop is the whole 32x32 sample here, so its values are the sample's own row of the CSV
        assert entry["model_psnr"] == pytest.approx(rows.loc[entry["sample_id"], "model_psnr"], abs=1e-9)
        assert entry["model_psnr"] > entry["degraded_psnr"]  # bicubic beats the 4x4 mosaic on smooth images


def test_inpaint_channel_and_separate_mask(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "inpaint", n=2, size=32)
    for name in ("identity", "biharmonic"):
        path = write_baseline(name, tmp_path / (name + (".json" if name == "biharmonic" else ".onnx")), task="inpaint")
        doc, _ = run(path, ds, tmp_path, name=name)
        model = doc["metrics"]["model"]
        assert {"psnr_hole", "mse_hole", "psnr_full"} <= set(model)
        if name == "identity":
            assert doc["model"]["assumed"]["mask_input"] == "channel"
            assert model["psnr_hole"] == doc["metrics"]["degraded"]["psnr_hole"]
        else:
            assert doc["model"]["assumed"]["mask_input"] == "separate"
            assert model["psnr_hole"] > doc["metrics"]["degraded"]["psnr_hole"] + 5  # filling beats black holes


def test_depixelate_scale_must_match_dataset_factor(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "depixelate", n=2, size=32, factor=4)
    with pytest.raises(ModelError, match="upscales by 2 .* dataset's factors are 4"):
        evaluate(write_baseline("bicubic", tmp_path / "b2.onnx", scale=2), ds, tmp_path / "r.json", QUICK)
    assert not (tmp_path / "r.json").exists()
    doc, _ = run(write_baseline("bicubic", tmp_path / "b4.onnx", scale=4), ds, tmp_path)
    assert doc["model"]["assumed"]["input"] == "lowres"
    assert doc["metrics"]["model"]["psnr"] > doc["metrics"]["degraded"]["psnr"]  # smooth images: bicubic wins
    assert set(doc["breakdown"]["factor"]) == {"4"}


def test_factor_selects_samples_of_a_mixed_set(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "depixelate", n=3, size=32, factor=4)
    meta = pd.read_csv(ds / "test" / "metadata.csv", keep_default_na=False, dtype=str)
    meta.loc[0, "factor"] = "2"  # pretend the first sample was pixelated at x2
    meta.to_csv(ds / "test" / "metadata.csv", index=False)
    reseal(ds)  # a hand-edited dataset needs its manifest brought up to date, or evaluate refuses it
    model = write_baseline("lanczos", tmp_path / "l4.onnx", scale=4)
    with pytest.raises(ModelError, match="factors are 2, 4; pass --factor 4"):
        evaluate(model, ds, tmp_path / "r.json", QUICK)
    doc, _ = run(model, ds, tmp_path, EvaluateOptions(speed=False, lpips=False, factor=4))
    assert doc["dataset"]["samples"] == 2 and doc["settings"]["factor"] == 4
    assert doc["crops"]["samples"] == ["test0001", "test0002"]
    with pytest.raises(DatasetError, match="no 'test' samples with factor 8; factors present: 2, 4"):
        evaluate(model, ds, tmp_path / "r.json", EvaluateOptions(factor=8))


def test_quality_selects_samples_of_a_mixed_set_and_is_recorded(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg-gray", n=5, size=32)  # qualities 10, 20, 10, 20, 10
    model = write_baseline("identity", tmp_path / "id.onnx", task="jpeg-gray")
    whole, _ = run(model, ds, tmp_path, name="whole")
    assert whole["dataset"]["samples"] == 5 and "quality" not in whole["settings"]  # older files keep their keys
    doc, out = run(model, ds, tmp_path, EvaluateOptions(speed=False, lpips=False, quality=10), name="q10")
    assert doc["dataset"]["samples"] == 3 and doc["settings"]["quality"] == 10
    assert set(doc["breakdown"]["quality"]) == {"10"}
    rows = pd.read_csv(out.parent / doc["per_sample"])
    assert rows["sample_id"].tolist() == ["test0000", "test0002", "test0004"]
    # the identity model returns its input, so its PSNR is the degraded input's on those three samples alone
    assert doc["metrics"]["model"]["psnr"] == pytest.approx(whole["breakdown"]["quality"]["10"]["model_psnr"])
    assert read_result(out).subset == "--quality 10"
    with pytest.raises(DatasetError, match="no 'test' samples with quality 30; qualities present: 10, 20"):
        evaluate(model, ds, tmp_path / "r.json", EvaluateOptions(quality=30))
    plain = write_tiny_dataset(tmp_path / "px", "jpeg", n=2, size=32)  # tests.synth writes no quality column here
    identity = write_baseline("identity", tmp_path / "i.onnx")
    with pytest.raises(DatasetError, match="--quality 10 given, but this dataset has no quality column"):
        evaluate(identity, plain, tmp_path / "r.json", EvaluateOptions(quality=10))


def test_cli_quality_option(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg-gray", n=4, size=32)
    model = write_baseline("identity", tmp_path / "id.onnx", task="jpeg-gray")
    out = tmp_path / "r.json"
    args = ["evaluate", str(model), "-d", str(ds), "-o", str(out), "--quality", "20", "--no-speed", "--no-lpips"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["settings"]["quality"] == 20 and doc["dataset"]["samples"] == 2
    res = CliRunner().invoke(app, [*args[:-3], "40", "--no-speed", "--no-lpips"])
    assert res.exit_code == 1 and "qualities present: 10, 20" in res.output


def test_blockcnn_triplets_and_whole_images(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "blockcnn", n=2, size=32)
    doc, _ = run(write_baseline("identity", tmp_path / "b.onnx", task="blockcnn"), ds, tmp_path)
    x, y = open_dataset(ds).split("test").triplets()
    stack = lambda a: np.ascontiguousarray(a).reshape(-1, 8, 3)  # noqa: E731
    expected = metrics.psnr(stack(y), stack(x[:, 8:16, 8:16]), data_range=255)  # centre block = degraded
    assert doc["metrics"]["triplets"]["model"]["psnr"] == pytest.approx(expected)
    assert doc["metrics"]["triplets"]["n"] == len(x)
    assert doc["metrics"]["model"]["psnr_b"] == doc["metrics"]["degraded"]["psnr_b"]


def test_evaluate_returns_the_result_it_wrote_and_reading_gives_it_back(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "blockcnn", n=2, size=32)
    out = tmp_path / "r.json"
    result = evaluate(write_baseline("identity", tmp_path / "b.onnx", task="blockcnn"), ds, out, QUICK)
    assert isinstance(result, Result) and result.path == out
    assert result_json(result) == out.read_bytes()  # the returned document is the one on disk
    assert read_result(out) == result  # and reading the file gives the same document back
    assert (
        result.metrics.triplets is not None and result.metrics.triplets.n == 8
    )  # tests/synth.py writes 4 triplets per image
    assert result.metrics.lpips_note == "disabled with --no-lpips" and result.metrics.model["lpips"] is None
    assert result["dataset"]["samples"] == result.dataset.samples == 2  # it also reads as the JSON object


def test_blockcnn_model_slides_over_jpeg_images(tmp_path):
    model = write_baseline("identity", tmp_path / "b.onnx", task="blockcnn")
    doc, _ = run(model, write_tiny_dataset(tmp_path / "jpeg", "jpeg", n=2, size=32), tmp_path)
    # The identity block model returns each context's centre block, so sliding it over the 8x8
    # grid rebuilds the degraded image exactly: the model's scores equal the input's.
    assert doc["model"]["assumed"]["model_task"] == "blockcnn"
    assert doc["metrics"]["model"]["psnr"] == doc["metrics"]["degraded"]["psnr"]
    assert doc["metrics"]["model"]["psnr_b"] == doc["metrics"]["degraded"]["psnr_b"]
    with pytest.raises(ModelError, match="declares pixbench.task='blockcnn' but the dataset task is 'depixelate'"):
        run(model, write_tiny_dataset(tmp_path / "dp", "depixelate", n=1, size=32), tmp_path, name="dp")


def softmax2_detector(path, *, logits: bool):
    """Two classes from the image mean m: (1 - m, m) as probabilities, or (0, 8 (m - 0.5)) as logits."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["m", "shape"], ["m2"]),
    ]
    if logits:
        nodes += [
            helper.make_node("Sub", ["m2", "half"], ["c"]),
            helper.make_node("Mul", ["c", "eight"], ["l1"]),
            helper.make_node("Mul", ["l1", "zero"], ["l0"]),
            helper.make_node("Concat", ["l0", "l1"], ["p"], axis=1),
        ]
    else:
        nodes += [helper.make_node("Sub", ["one", "m2"], ["q"]), helper.make_node("Concat", ["q", "m2"], ["p"], axis=1)]
    inits = [
        numpy_helper.from_array(np.array(v, t), n)
        for n, v, t in (
            ("shape", [-1, 1], np.int64),
            ("half", 0.5, np.float32),
            ("eight", 8.0, np.float32),
            ("zero", 0.0, np.float32),
            ("one", 1.0, np.float32),
        )
    ]
    return save_model(
        path,
        nodes,
        [helper.make_tensor_value_info("x", FLOAT, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info("p", FLOAT, ["N", 2])],
        inits,
    )


@pytest.mark.parametrize("kind", ["probability", "logit", "auto-logit", "softmax2-prob", "softmax2-logit"])
def test_detector_outputs_become_the_same_probabilities(tmp_path, kind):
    ds = write_tiny_dataset(tmp_path / "ds", "detect", n=4, size=32)
    if kind.startswith("softmax2"):
        model = softmax2_detector(tmp_path / "d.onnx", logits=kind.endswith("logit"))
    else:
        model = mean_detector(tmp_path / "d.onnx", props={"pixbench.output": "logit"} if kind == "logit" else None)
    opts = EvaluateOptions(speed=False, lpips=False, range="255" if kind == "auto-logit" else None)
    doc, _ = run(model, ds, tmp_path, opts)
    rows = pd.read_csv(tmp_path / "r.samples.csv", dtype={"sample_id": str})
    means = np.array([s.input.mean() / 255 for s in open_dataset(ds).split("test")])
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    expected = {
        "probability": means,
        "logit": sigmoid(means),
        "softmax2-prob": means,
        "auto-logit": sigmoid(255 * means),  # outputs in [0, 255] leave [0, 1]: read as logits
        "softmax2-logit": sigmoid(8 * (means - 0.5)),
    }[kind]  # softmax of (0, l) is sigmoid(l)
    np.testing.assert_allclose(rows["score"], expected, atol=1e-5)
    assert doc["model"]["assumed"]["output"] == (
        "softmax2" if kind.startswith("softmax2") else "logit" if "logit" in kind else "probability"
    )
    want = metrics.classification_metrics(rows["label"].to_numpy(), expected)
    assert doc["metrics"]["model"]["accuracy"] == pytest.approx(want["accuracy"])
    assert doc["targets"]["accuracy>=0.90"] is (want["accuracy"] >= 0.9)
    assert doc["targets"]["fps_1080p>=30"] is None  # speed not measured


def test_nan_outputs_are_counted_per_sample(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=3, size=16)
    doc, _ = run(affine_model(tmp_path / "nan.onnx", mul=float("nan")), ds, tmp_path)
    assert doc["failures"] == {"count": 3, "reasons": {"output holds NaN or Inf": 3}}
    rows = pd.read_csv(tmp_path / "r.samples.csv")
    assert (rows["failure"] == "output holds NaN or Inf").all()


def test_limit_speed_and_targets(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=4, size=32)
    opts = EvaluateOptions(limit=2, lpips=False, speed=True, warmup=0, runs=2, threads=1)
    doc, _ = run(write_baseline("identity", tmp_path / "i.onnx"), ds, tmp_path, opts)
    assert doc["dataset"]["samples"] == 2 and doc["dataset"]["split_samples"] == 4
    speed = doc["speed"]
    assert speed["provider"] == "CPUExecutionProvider" and speed["threads"] == 1 and speed["runs"] == 2
    assert speed["native_size"] == [32, 32]
    assert speed["fps_1080p"] == pytest.approx(1000 / speed["latency_ms_median_1080p"], rel=1e-3)
    assert doc["targets"]["fps_1080p>=30"] is (speed["fps_1080p"] >= 30)
    assert (
        doc["targets"]["size<=10MB"] is True and "accuracy>=0.90" not in doc["targets"]
    )  # a restorer has no accuracy target


def test_lpips_is_a_number_or_an_explicit_na(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=1, size=32)
    doc, _ = run(
        write_baseline("identity", tmp_path / "i.onnx"), ds, tmp_path, EvaluateOptions(speed=False, lpips=True)
    )
    value = doc["metrics"]["model"]["lpips"]
    assert (value is None and doc["metrics"]["lpips_note"]) or (isinstance(value, float) and math.isfinite(value))
    if value is None:  # the reason is fit to publish: no absolute path into the home folder
        assert str(Path.home()) + "/" not in doc["metrics"]["lpips_note"]


def test_bad_datasets(tmp_path):
    model = write_baseline("identity", tmp_path / "i.onnx")
    (tmp_path / "half" / ".pixbench-build").mkdir(parents=True)
    with pytest.raises(DatasetError, match="half-built"):
        evaluate(model, tmp_path / "half", tmp_path / "r.json", QUICK)
    with pytest.raises(DatasetError, match="not a pixbench dataset"):
        evaluate(model, tmp_path, tmp_path / "r.json", QUICK)
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=1, size=16, splits=("train",))
    with pytest.raises(DatasetError, match="no split 'test'"):
        evaluate(model, ds, tmp_path / "r.json", QUICK)


def test_cli_prints_assumptions_and_fails_cleanly(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=2, size=32)
    model = affine_model(tmp_path / "m.onnx", layout="nhwc")
    runner = CliRunner()
    out = tmp_path / "res" / "m.json"
    res = runner.invoke(
        app, ["evaluate", str(model), "--dataset", str(ds), "-o", str(out), "--no-speed", "--no-lpips", "--limit", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "layout=nhwc (inferred from input shape [?,?,?,3])" in res.output
    assert "range=01 (default)" in res.output and "psnr" in res.output
    assert json.loads(out.read_text())["dataset"]["samples"] == 1
    bad = tmp_path / "bad.onnx"
    bad.write_text("hello")
    res = runner.invoke(app, ["evaluate", str(bad), "-d", str(ds), "-o", str(tmp_path / "x.json"), "--no-speed"])
    assert res.exit_code == 1 and "not a loadable ONNX model" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["evaluate", str(model), "-d", str(ds), "--layout", "chw", "--no-speed"])
    assert res.exit_code == 1 and "--layout 'chw' is not one of nchw, nhwc" in res.output
    assert not (tmp_path / "x.json").exists()


def test_the_output_kind_is_the_declared_one_or_read_from_the_values():
    from pixbench.evaluate.detect import resolve_output

    inside, outside = [np.array([[0.0], [0.7]]), np.array([[1.0]])], [np.array([[0.2]]), np.array([[-3.0]])]
    assert resolve_output("logit", inside) == "logit"  # a declared kind is kept whatever the values
    assert resolve_output("auto", inside) == "probability" and resolve_output(None, inside) == "probability"
    assert resolve_output("auto", outside) == "logit" and resolve_output(None, []) == "probability"
