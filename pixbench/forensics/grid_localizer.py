"""The grid detector turned local: a per-cell mosaic score map as one small ONNX graph.

The whole-image detector (:mod:`pixbench.forensics.features`) reads its evidence off
difference profiles: along a column, how often the first difference is zero, and how
large it is. A mosaic made by box cells and a replicating upscale shows two things there:
*interior* columns, where the difference is (near) zero in every row of a block, and
*boundary* columns, where it changes in every row at once. This graph computes the same
two profiles, but over the rows of one cell (``cell`` pixels) instead of the whole image,
and reads them per cell:

* ``interior``: the share of a cell's columns whose first difference is at most
  ``flat_tol`` (on the channel-sum grey, 0..765) in at least 3/4 of the cell's rows;
  the same for rows, and the two multiplied. About ``1 - 1/b`` for a mosaic of block ``b``,
  near 0 for texture, near 1 for flat areas.
* ``edges``: whether a column changes by more than ``edge_tol`` in at least 3/4 of a cell's
  rows (and a row in 3/4 of its columns), anywhere within ``reach`` cells: a mosaic has
  block boundaries in both directions nearby, a flat sky has neither and a lone straight
  edge has one.

The score is ``interior * edges``, averaged over 3x3 cells and mapped to a probability by
``sigmoid(gain * (score - centre))``; each cell's probability is repeated over its
``cell x cell`` pixels and cropped to the input, so the output is ``N x 1 x H x W``.
Unlike the whole-image detector there is no spectrum and no fitted classifier: the grid's
period is not checked, so flat graphics and regular textures with flat tiles light up too,
which the localize benchmark's hard negatives measure. Input ``image``: float32
``N x 3 x H x W`` in [0, 255].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from pixbench.forensics.onnx_detector import _Graph
from pixbench.images import write_bytes_atomic
from pixbench.props import ModelProps

#: What the graph declares: [0, 255] RGB in, a probability per pixel out.
PROPS = ModelProps(task="localize", model="grid-localizer", range="255", output="probability")
_BIG = 2**62


@dataclass(frozen=True)
class LocalizerSettings:
    """The grid localizer's constants (the defaults are the published graph's).

    Attributes:
        cell: Side of a cell in pixels; the score map has one value per cell.
        flat_tol: Largest grey difference (sum of R, G and B) counted as "no change".
        edge_tol: Smallest grey difference counted as a block boundary.
        reach: Half-width, in cells, of the window in which block boundaries are looked for.
        gain: Slope of the final sigmoid.
        centre: Score mapped to probability 0.5.
    """

    cell: int = 8
    flat_tol: float = 3.0
    edge_tol: float = 12.0
    reach: int = 2
    gain: float = 12.0
    centre: float = 0.35


def _diff(g: _Graph, grey: str, axis: int) -> str:
    """``|grey[i+1] - grey[i]|`` along ``axis``, the last line repeated so the size is kept."""
    d = g.op("Abs", g.op("Sub", g.slice(grey, 1, _BIG, axis), g.slice(grey, 0, -1, axis)))
    return g.op("Concat", d, g.slice(d, -1, _BIG, axis), axis=axis)


def _at_least(g: _Graph, x: str, value: float) -> str:
    return g.op("Cast", g.op("GreaterOrEqual", x, g.const(value)), to=TensorProto.FLOAT)


def _direction(g: _Graph, grey: str, s: LocalizerSettings, *, along: int) -> tuple[str, str]:
    """Per cell: the share of interior lines, and whether a boundary line crosses it (``along``: 3 = columns)."""
    c = s.cell
    d = _diff(g, grey, along)
    flat = g.op("Cast", g.op("LessOrEqual", d, g.const(s.flat_tol)), to=TensorProto.FLOAT)
    edge = g.op("Cast", g.op("Greater", d, g.const(s.edge_tol)), to=TensorProto.FLOAT)
    # profiles over the lines of one cell: pool across the direction of the differences
    across = [c, 1] if along == 3 else [1, c]
    within = [1, c] if along == 3 else [c, 1]
    pool = {"kernel_shape": across, "strides": across, "ceil_mode": 1}
    flat_profile = g.op("AveragePool", flat, **pool)
    edge_profile = g.op("AveragePool", edge, **pool)
    cells = {"kernel_shape": within, "strides": within, "ceil_mode": 1}
    interior = g.op("AveragePool", _at_least(g, flat_profile, 0.75), **cells)
    boundary = g.op("MaxPool", _at_least(g, edge_profile, 0.75), **cells)
    k = 2 * s.reach + 1
    near = g.op("MaxPool", boundary, kernel_shape=[k, k], strides=[1, 1], pads=[s.reach] * 4)
    return interior, near


def build_localizer_onnx(settings: LocalizerSettings | None = None) -> onnx.ModelProto:
    """The grid localizer as an ONNX model with ``pixbench.*`` metadata (``pixbench.task=localize``)."""
    s = settings or LocalizerSettings()
    g = _Graph()
    grey = g.op("ReduceSum", "image", g.i64(1), keepdims=1)  # N x 1 x H x W, exact integers for 8-bit input
    ix, ex = _direction(g, grey, s, along=3)
    iy, ey = _direction(g, grey, s, along=2)
    score = g.op("Mul", g.op("Mul", ix, iy), g.op("Min", ex, ey))
    score = g.op("AveragePool", score, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=0)
    prob = g.op("Sigmoid", g.op("Mul", g.op("Sub", score, g.const(s.centre)), g.const(s.gain)))
    up = g.op("Resize", prob, "", g.const([1.0, 1.0, s.cell, s.cell]), mode="nearest")
    size = g.slice(g.op("Shape", "image"), 2, 4, 0)
    g.nodes.append(helper.make_node("Slice", [up, g.i64(0, 0), size, g.i64(2, 3)], ["probability"]))
    outputs = [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 1, "H", "W"])]
    return g.finish("pixbench_grid_localizer", outputs, PROPS)


def save_localizer_onnx(path: str | Path, settings: LocalizerSettings | None = None) -> Path:
    """Build the localizer graph and write it atomically to ``path``."""
    path = Path(path)
    write_bytes_atomic(path, build_localizer_onnx(settings).SerializeToString())
    return path


def localize_cells(image: np.ndarray, settings: LocalizerSettings | None = None) -> np.ndarray:
    """Run the graph on one ``HxWx3 uint8`` image; the ``HxW`` float32 probability map."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(build_localizer_onnx(settings).SerializeToString(), opts)
    x = image.astype(np.float32).transpose(2, 0, 1)[None]
    return session.run(None, {"image": x})[0][0, 0]
