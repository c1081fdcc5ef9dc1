"""Runtime: spec resolution from props/shapes/overrides, adapters, tiling, block sliding, crops, errors.

The models are built here with ``onnx.helper`` and run by real onnxruntime sessions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from pixbench.errors import ModelError
from pixbench.runtime import Model, Runner, TensorInfo, load_model, resolve_spec, rgb_to_ycbcr, ycbcr_to_rgb
from pixbench.runtime import runner as runner_module
from pixbench.runtime.tiling import positions, ramp

FLOAT, UINT8 = TensorProto.FLOAT, TensorProto.UINT8


def save_model(
    path: Path, nodes: list, inputs: list, outputs: list, inits: list | None = None, props: dict[str, str] | None = None
) -> Path:
    """Write a small ONNX model (opset 17) and return its path."""
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=inits or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if props:
        helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def image_shape(layout: str, channels: int, size: tuple[int, int] | None, batch: int | str = "N") -> list:
    h, w = size if size else ("H", "W")
    return [batch, channels, h, w] if layout == "nchw" else [batch, h, w, channels]


def affine_model(
    path: Path,
    *,
    layout: str = "nchw",
    size: tuple[int, int] | None = None,
    channels: int = 3,
    mul: float = 1.0,
    add: float = 0.0,
    dtype: int = FLOAT,
    batch: int | str = "N",
    props: dict[str, str] | None = None,
) -> Path:
    """``y = x * mul + add`` (float output); a uint8 input is cast to float first."""
    shape = image_shape(layout, channels, size, batch)
    nodes, src = [], "x"
    if dtype == UINT8:
        nodes.append(helper.make_node("Cast", ["x"], ["xf"], to=FLOAT))
        src = "xf"
    nodes += [helper.make_node("Mul", [src, "mul"], ["m"]), helper.make_node("Add", ["m", "add"], ["y"])]
    inits = [
        numpy_helper.from_array(np.array(mul, np.float32), "mul"),
        numpy_helper.from_array(np.array(add, np.float32), "add"),
    ]
    return save_model(
        path,
        nodes,
        [helper.make_tensor_value_info("x", dtype, shape)],
        [helper.make_tensor_value_info("y", FLOAT, shape)],
        inits,
        props,
    )


def test_nhwc_fixed_size_is_inferred(tmp_path):
    model = load_model(affine_model(tmp_path / "m.onnx", layout="nhwc", size=(32, 32), batch=1))
    spec = resolve_spec(model, "jpeg")
    assert (spec.layout, spec.range, spec.channels, spec.tile, spec.batch) == ("nhwc", "01", "rgb", (32, 32), 1)
    assert spec.sources["layout"].startswith("inferred from input shape [1,32,32,3]")
    assert spec.sources["range"] == "default"


def test_uint8_input_means_255_range_and_overrides_win(tmp_path):
    path = affine_model(tmp_path / "m.onnx", dtype=UINT8, props={"pixbench.layout": "nchw"})
    spec = resolve_spec(load_model(path), "jpeg")
    assert spec.range == "255" and spec.sources["range"] == "inferred from uint8 input"
    assert spec.sources["layout"] == "metadata"
    spec = resolve_spec(load_model(path), "jpeg", range_="11")
    assert spec.range == "11" and spec.sources["range"] == "override"


@pytest.mark.parametrize("range_", ["01", "11", "255"])
def test_ranges_round_trip_identity(tmp_path, range_):
    path = affine_model(tmp_path / "m.onnx", layout="nhwc")
    model = load_model(path)
    runner = Runner(model, resolve_spec(model, "jpeg", range_=range_))
    img = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(runner.restore(img), img)


def test_range_scaling_is_applied(tmp_path):
    # In [-1, 1], pixel v is v/127.5 - 1; y = 0.5 x + 0.5 maps that back to pixel v/2 + 127.5 (hand algebra)
    model = load_model(affine_model(tmp_path / "m.onnx", mul=0.5, add=0.5, props={"pixbench.range": "11"}))
    runner = Runner(model, resolve_spec(model, "jpeg"))
    img = np.full((8, 8, 3), 101, np.uint8)
    assert runner.restore(img)[0, 0, 0] == 178  # 101 / 2 + 127.5


def test_y_only_model_gets_luma_and_keeps_chroma(tmp_path):
    model = load_model(affine_model(tmp_path / "m.onnx", channels=1, mul=1.0))
    spec = resolve_spec(model, "jpeg")
    assert spec.channels == "y" and spec.sources["channels"] == "inferred from 1 input channel"
    img = np.random.default_rng(2).integers(30, 220, (16, 24, 3), dtype=np.uint8)
    out = Runner(model, spec).restore(img)
    assert np.abs(out.astype(int) - img).max() <= 1  # only float rounding of the YCbCr round trip


def test_ycbcr_matches_pillow():
    img = np.random.default_rng(3).integers(0, 256, (10, 10, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(img).convert("YCbCr"), dtype=np.float32)  # Pillow's JFIF YCbCr
    assert np.abs(rgb_to_ycbcr(img) - ref).max() <= 1.0
    assert np.abs(ycbcr_to_rgb(rgb_to_ycbcr(img)) - img).max() < 1e-3


def test_positions_and_ramp_cover_the_image():
    assert positions(100, 32, 8) == [0, 24, 48, 68]  # stride 32 - 8 = 24, last tile ends at 100
    assert positions(20, 32, 8) == [0]
    weights = ramp(8, 4)
    np.testing.assert_allclose(weights, [0.125, 0.375, 0.625, 0.875, 0.875, 0.625, 0.375, 0.125])


def test_tiles_blend_to_the_whole_image_result(tmp_path):
    """A pointwise model gives the same answer tiled as whole, whatever the blend weights."""
    model = load_model(affine_model(tmp_path / "m.onnx", layout="nhwc", size=(32, 32), mul=0.5, add=0.25))
    runner = Runner(model, resolve_spec(model, "jpeg"), overlap=8)
    img = np.random.default_rng(4).integers(0, 256, (70, 100, 3), dtype=np.uint8)
    expected = np.clip(np.rint(img * 0.5 + 0.25 * 255), 0, 255)
    np.testing.assert_array_equal(runner.restore(img), expected)
    small = img[:20, :10]  # smaller than the tile: padded, then cropped back
    np.testing.assert_array_equal(runner.restore(small), expected[:20, :10])


def test_tiled_upscaler_with_fixed_batch(tmp_path):
    """A fixed 16x16 -> 32x32 nearest upscaler over a 40x24 low-res grid equals nearest upscaling."""
    shape_in, shape_out = [1, 3, 16, 16], [1, 3, 32, 32]
    path = save_model(
        tmp_path / "up.onnx",
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")],
        [helper.make_tensor_value_info("x", FLOAT, shape_in)],
        [helper.make_tensor_value_info("y", FLOAT, shape_out)],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")],
    )
    model = load_model(path)
    spec = resolve_spec(model, "depixelate")
    assert (spec.input, spec.scale, spec.sources["input"]) == ("lowres", 2, "probed")
    low = np.random.default_rng(5).integers(0, 256, (40, 24, 3), dtype=np.uint8)
    out = Runner(model, spec, overlap=4).restore(np.zeros((80, 48, 3), np.uint8), lowres=low)
    np.testing.assert_array_equal(out, low.repeat(2, 0).repeat(2, 1))


def blockcnn_identity(path: Path) -> Path:
    """24x24 context -> its centre 8x8 block."""
    inits = [
        numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s", [8, 8]), ("e", [16, 16]), ("a", [2, 3]))
    ]
    return save_model(
        path,
        [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])],
        [helper.make_tensor_value_info("x", FLOAT, ["N", 3, 24, 24])],
        [helper.make_tensor_value_info("y", FLOAT, ["N", 3, 8, 8])],
        inits,
    )


def test_blockcnn_slides_over_the_8x8_grid(tmp_path):
    model = load_model(blockcnn_identity(tmp_path / "b.onnx"))
    runner = Runner(model, resolve_spec(model, "blockcnn"))
    img = np.random.default_rng(6).integers(0, 256, (45, 70, 3), dtype=np.uint8)  # not multiples of 8
    np.testing.assert_array_equal(runner.restore(img), img)
    ctx = np.random.default_rng(7).integers(0, 256, (5, 24, 24, 3), dtype=np.uint8)
    np.testing.assert_array_equal(runner.restore_triplets(ctx), ctx[:, 8:16, 8:16])


def mean_detector(path: Path, *, size: tuple[int, int] | None = None, props: dict[str, str] | None = None) -> Path:
    """Outputs the mean of the input as its one score, shape (N, 1)."""
    inits = [numpy_helper.from_array(np.array([1], np.int64), "one")]
    return save_model(
        path,
        [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2, 3], keepdims=0),
            helper.make_node("Unsqueeze", ["m", "one"], ["p"]),
        ],
        [helper.make_tensor_value_info("x", FLOAT, image_shape("nchw", 3, size))],
        [helper.make_tensor_value_info("p", FLOAT, ["N", 1])],
        inits,
        props,
    )


def test_fixed_size_detector_sees_a_grid_of_crops(tmp_path):
    model = load_model(mean_detector(tmp_path / "d.onnx", size=(32, 32)))
    spec = resolve_spec(model, "detect")
    assert spec.output == "auto"
    img = np.zeros((64, 80, 3), np.uint8)
    img[:, 48:] = 255
    raw = Runner(model, spec).detect_raw(img)
    # 2 rows x 3 columns of 32x32 crops at x = 0, 32, 48 (last aligned to the edge): white fractions 0, 1/2, 1
    np.testing.assert_allclose(raw[:, 0], [0, 0.5, 1, 0, 0.5, 1])


def test_not_onnx_is_one_clear_error(tmp_path):
    bad = tmp_path / "m.onnx"
    bad.write_bytes(b"\x00not a model at all")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        load_model(bad)
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "missing.onnx")


def test_inputs_that_cannot_fit(tmp_path):
    vec = save_model(
        tmp_path / "v.onnx",
        [helper.make_node("Identity", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", FLOAT, ["N", 10])],
        [helper.make_tensor_value_info("y", FLOAT, ["N", 10])],
    )
    with pytest.raises(ModelError, match=r"expected one 4-D image input.*x\[\?,10\]"):
        resolve_spec(load_model(vec), "jpeg")
    rgb = affine_model(tmp_path / "a.onnx")
    with pytest.raises(ModelError, match="inpaint model needs the mask"):
        resolve_spec(load_model(rgb), "inpaint")
    tagged = affine_model(tmp_path / "t.onnx", props={"pixbench.task": "detect"})
    with pytest.raises(ModelError, match="declares pixbench.task='detect' but the dataset task is 'jpeg'"):
        resolve_spec(load_model(tagged), "jpeg")


def test_wrong_output_channels_fail_at_the_probe(tmp_path):
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s", [0]), ("e", [2]), ("a", [1]))]
    path = save_model(
        tmp_path / "two.onnx",
        [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])],
        [helper.make_tensor_value_info("x", FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", FLOAT, ["N", 2, "H", "W"])],
        inits,
    )
    with pytest.raises(ModelError, match="has 2 channels, expected 3"):
        resolve_spec(load_model(path), "jpeg")


def test_nan_output_raises_per_call(tmp_path):
    model = load_model(affine_model(tmp_path / "nan.onnx", mul=float("nan")))
    runner = Runner(model, resolve_spec(model, "jpeg"))
    with pytest.raises(ModelError, match="NaN or Inf"):
        runner.restore(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("kwargs", [dict(channels=1), dict(channels=1, size=(8, 8)), dict(size=(8, 8))])
def test_nan_output_raises_for_luma_and_tiles(tmp_path, kwargs):
    """Y-only models (whole and tiled) and tiled RGB models: NaN survives blending and is caught."""
    model = load_model(affine_model(tmp_path / "nan.onnx", mul=float("nan"), **kwargs))
    runner = Runner(model, resolve_spec(model, "jpeg"))
    with pytest.raises(ModelError, match="NaN or Inf"):
        runner.restore(np.zeros((20, 12, 3), np.uint8))


def test_inf_output_raises_on_the_planar_path(tmp_path):
    """An NCHW output is checked plane by plane; +Inf (not only NaN) is caught."""
    model = load_model(affine_model(tmp_path / "inf.onnx", add=float("inf")))
    runner = Runner(model, resolve_spec(model, "jpeg"))
    with pytest.raises(ModelError, match="NaN or Inf"):
        runner.restore(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("group_values", [1 << 24, 1])
def test_nchw_tiles_and_reused_buffers_across_sizes(tmp_path, monkeypatch, group_values):
    """NCHW tiles, in one group of batches or a group per batch; scratch buffers are reused
    between calls and sizes. The expected values are the pointwise formula, as in the NHWC
    tiling test above.
    """
    monkeypatch.setattr(runner_module, "MAX_GROUP_VALUES", group_values)
    # A fixed batch of 2: several batches per image, the last one padded by repetition.
    model = load_model(affine_model(tmp_path / "m.onnx", size=(32, 32), mul=0.5, add=0.25, batch=2))
    runner = Runner(model, resolve_spec(model, "jpeg", range_="11"), overlap=8)
    rng = np.random.default_rng(8)
    imgs = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((70, 100, 3), (41, 33, 3), (20, 10, 3))]
    # range 11: x = p * 2/255 - 1, y = 0.5 x + 0.25, back (y + 1) * 127.5 = p/2 + 95.625 (never a rounding tie)
    expected = [np.clip(np.rint((0.5 * (im * (2 / 255) - 1) + 0.25 + 1) * 127.5), 0, 255) for im in imgs]
    for _ in range(2):  # the second round runs on buffers left by the first
        for im, want in zip(imgs, expected):
            out = runner.restore(im)
            assert out.dtype == np.uint8 and out.flags.c_contiguous
            np.testing.assert_array_equal(out, want)


class EchoModel(Model):
    """A model (the :class:`Model` interface) whose output is the very array it was fed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        shape = (None, 3, None, None)
        self.inputs = [TensorInfo("x", shape, np.dtype(np.float32))]
        self.outputs = [TensorInfo("y", shape, np.dtype(np.float32))]
        self.props = {}

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [feeds["x"]]


def test_outputs_sharing_the_fed_buffer_are_copied(tmp_path):
    """The runner reuses its input buffer; an output that is that buffer must survive the next batch."""
    model = EchoModel(tmp_path / "echo.py")
    runner = Runner(model, resolve_spec(model, "jpeg", range_="255"))
    x = np.random.default_rng(9).integers(0, 256, (600, 16, 16, 3), dtype=np.uint8)  # 3 chunks of 256
    np.testing.assert_array_equal(runner.predict_batched(x), x)
