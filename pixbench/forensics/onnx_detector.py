"""The detector as one ONNX graph: analytic features, then the fitted classifier.

Built with ``onnx.helper`` node by node, so the graph is exactly the feature
definition of :mod:`pixbench.forensics.features` (the tests check parity) with
no exporter in between. Input ``image``: float32 ``N x 3 x H x W`` in [0, 255]
with dynamic N, H and W; output ``probability``: float32 ``N x 1``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pixbench.forensics import features as F
from pixbench.forensics.detector import DetectorParams
from pixbench.images import write_bytes_atomic
from pixbench.props import GRID_DETECTOR_ORDER, ModelProps

OPSET = 17
#: What the graph declares: [0, 255] RGB in, a calibrated probability out.
PROPS = ModelProps(task="detect", model="grid-detector", range="255", output="probability")


class _Graph:
    """A tiny helper that names nodes and constants uniquely."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value, dtype=np.float32, hint: str = "c") -> str:
        name = self._name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        out = self._name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def i64(self, *values: int) -> str:
        return self.const(list(values), np.int64, "i")

    def slice(self, x: str, start: int, end: int, axis: int, step: str | None = None) -> str:
        args = [x, self.i64(start), self.i64(end), self.i64(axis)]
        if step is not None:
            args.append(step)
        return self.op("Slice", *args)

    def finish(self, name: str, outputs: list[onnx.ValueInfoProto], props: ModelProps) -> onnx.ModelProto:
        """The model of these nodes: one ``image`` input (``N x 3 x H x W``), ``outputs``, ``props`` as
        ``pixbench.*`` metadata, opset :data:`OPSET` at IR version 8, checked in full."""
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
            outputs,
            initializer=self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pixbench")
        model.ir_version = 8
        props.write(model, GRID_DETECTOR_ORDER)
        onnx.checker.check_model(model, full_check=True)
        return model


_BIG = 2**62


def _stride(g: _Graph, shape: str, axis: int) -> str:
    """``max(1, ceil(length / MAX_LINES))`` of one image dimension, as a 1-element int64 tensor."""
    length = g.op("Gather", shape, g.i64(axis), axis=0)
    up = g.op("Add", length, g.i64(F.MAX_LINES - 1))
    return g.op("Max", g.op("Div", up, g.i64(F.MAX_LINES)), g.i64(1))


def _direction(g: _Graph, grey: str, diff_axis: int, mean_axis: int) -> str:
    """The 17 features of one direction of an ``N x A x B`` grey tensor, as ``N x 17``."""
    d1 = g.op("Sub", g.slice(grey, 1, _BIG, diff_axis), g.slice(grey, 0, -1, diff_axis))
    d2 = g.op("Sub", g.slice(d1, 1, _BIG, diff_axis), g.slice(d1, 0, -1, diff_axis))
    d1 = g.slice(d1, 0, -1, diff_axis)
    p1 = g.op("ReduceMean", g.op("Abs", d1), axes=[mean_axis], keepdims=0)
    zero = g.op("Cast", g.op("Equal", d1, g.const(0.0)), to=TensorProto.FLOAT)
    pz = g.op("ReduceMean", zero, axes=[mean_axis], keepdims=0)
    p2 = g.op("ReduceMean", g.op("Abs", d2), axes=[mean_axis], keepdims=0)
    prof = g.op("Concat", *(g.op("Unsqueeze", p, g.i64(1)) for p in (p1, pz, p2)), axis=1)  # N x 3 x n

    mean = g.op("ReduceMean", prof, axes=[2], keepdims=1)
    offsets = g.const(np.asarray(F.PROFILE_OFFSETS).reshape(1, 3, 1))
    q = g.op("Div", g.op("Sub", prof, mean), g.op("Add", mean, offsets))
    n = g.op("Gather", g.op("Shape", d2), g.i64(diff_axis), axis=0)
    pos = g.op(
        "Cast", g.op("Range", g.const(0, np.int64), g.op("Squeeze", n), g.const(1, np.int64)), to=TensorProto.FLOAT
    )
    phase = g.op("Mul", g.op("Unsqueeze", pos, g.i64(1)), g.const((2 * np.pi * F.FREQS)[None, :]))
    re = g.op("MatMul", q, g.op("Cos", phase))
    im = g.op("MatMul", q, g.op("Sin", phase))
    power = g.op("Add", g.op("Mul", re, re), g.op("Mul", im, im))
    spec = g.op("Div", g.op("Sqrt", power), g.op("Cast", n, to=TensorProto.FLOAT))  # N x 3 x K

    off_bins = np.flatnonzero(F.OFF_JPEG_MASK)
    parts = [
        g.op("ReduceMax", spec, axes=[2], keepdims=1),
        g.op("ReduceMean", spec, axes=[2], keepdims=1),
        g.op("ReduceMax", g.op("Gather", spec, g.const(F.JPEG_BINS, np.int64), axis=2), axes=[2], keepdims=1),
        g.op("ReduceMax", g.op("Gather", spec, g.const(off_bins, np.int64), axis=2), axes=[2], keepdims=1),
    ]
    stats = g.op("Log", g.op("Add", g.op("Concat", *parts, axis=2), g.const(F.EPS)))  # N x 3 x 4
    spectral = g.op("Reshape", stats, g.i64(0, 12))

    def log_plus(x: str) -> str:
        return g.op("Log", g.op("Add", x, g.const(0.3)))

    mean_p1 = log_plus(g.op("ReduceMean", p1, axes=[1], keepdims=1))
    mean_p2 = log_plus(g.op("ReduceMean", p2, axes=[1], keepdims=1))
    glob = [
        g.op("ReduceMean", pz, axes=[1], keepdims=1),
        g.op("ReduceMax", pz, axes=[1], keepdims=1),
        mean_p1,
        g.op("Sub", mean_p2, mean_p1),
        g.op("Sub", log_plus(g.op("ReduceMin", p2, axes=[1], keepdims=1)), mean_p2),
    ]
    return g.op("Concat", spectral, *glob, axis=1)


def _features(g: _Graph, image: str) -> str:
    shape = g.op("Shape", image)
    rows = g.slice(image, 0, _BIG, 2, _stride(g, shape, 2))
    cols = g.slice(image, 0, _BIG, 3, _stride(g, shape, 3))
    grey_rows = g.op("ReduceSum", rows, g.i64(1), keepdims=0)  # N x R x W
    grey_cols = g.op("ReduceSum", cols, g.i64(1), keepdims=0)  # N x H x C
    fx = _direction(g, grey_rows, diff_axis=2, mean_axis=1)
    fy = _direction(g, grey_cols, diff_axis=1, mean_axis=2)
    return g.op("Concat", fx, fy, axis=1, hint="features")


def _classifier(g: _Graph, feats: str, params: DetectorParams) -> str:
    x = g.op("Div", g.op("Sub", feats, g.const(params.mean[None])), g.const(params.scale[None]))
    for i, (w, b) in enumerate(zip(params.weights, params.biases, strict=True)):
        x = g.op("Add", g.op("MatMul", x, g.const(w)), g.const(b[None]))
        if i < len(params.weights) - 1:
            x = g.op("Tanh", x)
    return g.op("Mul", x, g.const(1.0 / params.temperature), hint="logit")


def build_detector_onnx(params: DetectorParams, *, features_output: bool = False) -> onnx.ModelProto:
    """The whole detector as an ONNX model with ``pixbench.*`` metadata.

    Args:
        params: Fitted classifier (``fit_detector`` in ``tools/detector_fitting.py``).
        features_output: Also expose the ``N x 34`` feature tensor as a second
            output named ``features`` (for parity tests); off for the shipped model.
    """
    g = _Graph()
    feats = _features(g, "image")
    logit = _classifier(g, feats, params)
    g.nodes.append(helper.make_node("Sigmoid", [logit], ["probability"]))
    outputs = [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 1])]
    if features_output:
        g.nodes.append(helper.make_node("Identity", [feats], ["features"]))
        outputs.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", F.N_FEATURES]))
    return g.finish("pixbench_grid_detector", outputs, PROPS)


def save_detector_onnx(params: DetectorParams, path: str | Path) -> Path:
    """Build the detector graph and write it atomically to ``path``."""
    path = Path(path)
    write_bytes_atomic(path, build_detector_onnx(params).SerializeToString())
    return path
