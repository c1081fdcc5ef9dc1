"""`pixbench combine`: two detectors as one ONNX graph, checked against the members run on their own."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

import pixbench.combine as combine
from pixbench.cli import app
from pixbench.combine import combine_files, combine_graph, detector_answer, read_member
from pixbench.errors import ModelError
from pixbench.props import EXPORT_ORDER, ModelProps
from pixbench.runtime import load_model

REPO = Path(__file__).resolve().parent.parent
SEPUNET = REPO / "leaderboards/models/detect/sepunet-detector.onnx"
MOBILENET = REPO / "leaderboards/models/detect/mobilenetv2-classifier.onnx"
GRID = REPO / "leaderboards/models/grid-detector.onnx"
PUBLISHED = REPO / "leaderboards/models/detect/sepunet-grid-detector.onnx"


def _images() -> list[np.ndarray]:
    """A clean-looking gradient with noise, and the same image pixelated by 8 (nearest): one of each class."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:128, 0:128]
    base = np.stack([xx * 1.5, yy * 1.2, (xx + yy) * 0.8], axis=-1) + rng.normal(0, 12, (128, 128, 3))
    clean = np.clip(base, 0, 255).astype(np.uint8)
    small = clean[::8, ::8]
    pixelated = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    return [clean, pixelated]


def _probability(path: Path, image: np.ndarray) -> float:
    """What `pixbench evaluate` reads from a detector (its runner, the first output value, as declared)."""
    return detector_answer(read_member(path), image)


def _tiny(path: Path, *, layout: str, range_: str, output: str, weight: float, opset: int = 17, side=None) -> Path:
    """A small detector: ``weight * (mean of the red channel - middle of the range)``, with the given contract.

    It reads the red channel through a per-channel weight laid out for its own layout, so an image
    given in the wrong layout or range reads another value.
    """
    middle = {"01": 0.5, "11": 0.0, "255": 127.5}[range_]
    hw = [side, side] if side else ["H", "W"]
    shape, pick = (["N", 3, *hw], [1, 3, 1, 1]) if layout == "nchw" else (["N", *hw, 3], [1, 1, 1, 3])
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["image", "red"], ["r"]),
            helper.make_node("ReduceMean", ["r"], ["m3"], axes=[1, 2, 3], keepdims=0),
            helper.make_node("Mul", ["m3", "three"], ["m"]),
            helper.make_node("Sub", ["m", "middle"], ["d"]),
            helper.make_node("Mul", ["d", "weight"], ["v"]),
            helper.make_node("Unsqueeze", ["v", "one"], ["score"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        initializer=[
            helper.make_tensor("red", TensorProto.FLOAT, pick, [1.0, 0.0, 0.0]),
            helper.make_tensor("three", TensorProto.FLOAT, [], [3.0]),
            helper.make_tensor("middle", TensorProto.FLOAT, [], [middle]),
            helper.make_tensor("weight", TensorProto.FLOAT, [], [weight]),
            helper.make_tensor("one", TensorProto.INT64, [1], [1]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    ModelProps(task="detect", model=path.stem, layout=layout, range=range_, output=output).write(model, EXPORT_ORDER)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("rule, reduce", [("min", min), ("max", max), ("mean", lambda a, b: (a + b) / 2)])
def test_the_combined_file_gives_the_rule_over_what_the_evaluator_reads_from_each_member(tmp_path, rule, reduce):
    # mobilenetv2 takes [0, 1] and the grid detector [0, 255]: the graph converts the image for the second
    out = combine_files(MOBILENET, GRID, tmp_path / "c.onnx", rule=rule)
    assert out.path.is_file() and out.max_abs_diff <= 1e-5
    for image in _images():
        want = reduce(_probability(MOBILENET, image), _probability(GRID, image))
        assert _probability(out.path, image) == pytest.approx(want, abs=1e-5)


def _photo_crops() -> list[np.ndarray]:
    """A 256x256 crop of scikit-image's astronaut photo (embedded source), clean and pixelated by 8 (nearest)."""
    import skimage.data

    clean = np.ascontiguousarray(skimage.data.astronaut()[100:356, 150:406])
    pixelated = np.repeat(np.repeat(clean[::8, ::8], 8, axis=0), 8, axis=1)
    return [clean, pixelated]


def test_min_of_the_published_detectors_flags_only_what_both_flag(tmp_path):
    path = combine_files(SEPUNET, GRID, tmp_path / "c.onnx", rule="min").path
    verdicts = []
    for image in [*_photo_crops(), *_images()]:
        members = [_probability(SEPUNET, image) >= 0.5, _probability(GRID, image) >= 0.5]
        assert (_probability(path, image) >= 0.5) == all(members)
        verdicts.append(members)
    # the photo: both clear the clean crop and both flag the pixelated one; the synthetic
    # pixelated gradient is flagged by the grid detector alone, so the combination clears it
    assert verdicts == [[False, False], [True, True], [False, False], [False, True]]


def test_metadata_names_the_rule_and_each_member_by_hash(tmp_path):
    path = combine_files(SEPUNET, GRID, tmp_path / "c.onnx", rule="min", name="both").path
    props = load_model(path).props
    assert props["pixbench.model"] == "both"
    assert (props["pixbench.task"], props["pixbench.range"], props["pixbench.layout"]) == ("detect", "01", "nchw")
    assert props["pixbench.output"] == "probability"
    args = json.loads(props["pixbench.model_args"])
    assert args["rule"] == "min"
    assert args["members"] == [
        {"model": "sepunet-detector", "sha256": hashlib.sha256(SEPUNET.read_bytes()).hexdigest()},
        {"model": "grid-detector", "sha256": hashlib.sha256(GRID.read_bytes()).hexdigest()},
    ]


def test_the_published_combined_detector_is_what_pixbench_combine_makes_of_its_members():
    model = combine_graph(read_member(SEPUNET), read_member(GRID), "min", "sepunet-grid-detector")
    assert model.SerializeToString() == PUBLISHED.read_bytes()


def test_a_logit_member_goes_through_a_sigmoid_and_each_member_gets_its_range_and_layout(tmp_path):
    logit = _tiny(tmp_path / "logit.onnx", layout="nchw", range_="11", output="logit", weight=4.0)
    nhwc = _tiny(tmp_path / "nhwc.onnx", layout="nhwc", range_="255", output="probability", weight=0.004, opset=13)
    image = np.empty((32, 48, 3), np.uint8)
    image[...] = (200, 10, 90)  # the red channel differs from the others: a wrong layout reads another value
    first = 1 / (1 + np.exp(-4.0 * (200 / 255 * 2 - 1)))  # sigmoid(4 x red in [-1, 1])
    second = 0.004 * (200 - 127.5)  # red in [0, 255], less its middle
    assert (_probability(logit, image), _probability(nhwc, image)) == pytest.approx((first, second), abs=1e-6)
    for a, b in ((logit, nhwc), (nhwc, logit)):  # either member's contract as the file's, opsets 17 and 13 mixed
        for rule, want in (("max", max(first, second)), ("min", min(first, second)), ("mean", (first + second) / 2)):
            out = combine_files(a, b, tmp_path / f"{a.stem}-{rule}.onnx", rule=rule).path
            assert _probability(out, image) == pytest.approx(want, abs=1e-5)


def test_a_graph_that_disagrees_with_its_members_is_not_written(tmp_path, monkeypatch):
    # the graph takes the higher probability while the check expects the lower one
    monkeypatch.setitem(combine.RULES, "min", ("Max", np.minimum))
    keep = tmp_path / "c.onnx"
    keep.write_bytes(b"what the user had")
    with pytest.raises(ModelError, match="combined graph differs from the min of its members by .*; nothing written"):
        combine_files(MOBILENET, GRID, keep, rule="min")
    assert keep.read_bytes() == b"what the user had" and sorted(p.name for p in tmp_path.iterdir()) == ["c.onnx"]


def test_a_fixed_size_member_is_refused(tmp_path):
    fixed = _tiny(tmp_path / "fixed.onnx", layout="nchw", range_="01", output="probability", weight=1.0, side=64)
    with pytest.raises(
        ModelError, match="takes a fixed 64x64 input; combine takes models with a free batch, height and width"
    ):
        read_member(fixed)


@pytest.mark.parametrize(
    "first, rule, message",
    [
        (
            "leaderboards/models/localize/flatness.onnx",
            "min",
            "a localize model; combine takes models that give one probability",
        ),
        ("leaderboards/models/detect/sepunet-detector.onnx", "median", "rule 'median' is not one of min, max, mean"),
        ("no/such.onnx", "min", "no such model file"),
    ],
)
def test_what_cannot_be_combined_is_refused_and_nothing_is_written(tmp_path, first, rule, message):
    with pytest.raises(ModelError, match=message):
        combine_files(REPO / first, GRID, tmp_path / "c.onnx", rule=rule)
    assert list(tmp_path.iterdir()) == []


def test_an_output_of_unknown_kind_is_refused(tmp_path):
    auto = _tiny(tmp_path / "auto.onnx", layout="nchw", range_="01", output="auto", weight=1.0)
    with pytest.raises(ModelError, match="pixbench.output is 'auto'; combine needs 'probability' or 'logit'"):
        read_member(auto)


def test_cli_writes_the_file_and_reports_errors_in_one_line(tmp_path):
    out = tmp_path / "c.onnx"
    ok = CliRunner().invoke(app, ["combine", str(SEPUNET), str(GRID), "-o", str(out), "--name", "x"])
    assert ok.exit_code == 0, ok.output
    assert "wrote" in ok.output and out.is_file()
    bad = CliRunner().invoke(app, ["combine", str(SEPUNET), str(GRID), "-o", str(tmp_path / "d.onnx"), "--rule", "or"])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == ["error: rule 'or' is not one of min, max, mean"]
