"""The whole depixelator for one factor as a single ONNX graph, built node by node.

Input ``image``: uint8 ``N x 3 x H x W`` (``pixbench.range=255``), the pixelated picture
with its grid at pixel 0 (``pixbench.input=full``); output ``depixelated``, the same. The
network is :class:`pixbench.models.grid_upscaler.GridUpscaler` (the registry's
``grid-upscaler``), its weights read here. Inside the graph:

1. ``AveragePool(s, stride s)`` recovers the low-res grid. For a box-down /
   nearest-up pixelation whose blocks start at pixel 0 this is exact: every
   block holds one value, so its mean is that value.
2. For ``s = 2``, ``SpaceToDepth(2)`` packs the grid into 12 channels so the
   network runs at 1/4 of the output size (see :mod:`pixbench.models.grid_upscaler`).
3. The network's convolutions, with the back-projection, the nearest base and
   the [0, 255] scaling folded into the last and the skip convolution.
4. ``Clip`` and ``DepthToSpace`` (CRD, the order of ``torch.pixel_shuffle``)
   give the full-size output.

Nothing is resized at full resolution: the only full-size steps are the pooling
read and the final rearrangement. ``H`` and ``W`` must be multiples of the cell
``G`` (4 for x2 and x4, 8 for x8), as 1080p frames and the ``depixelate-*``
crops are; other sizes and grid phases go through
:func:`pixbench.forensics.depixelate.depixelate`, which crops and pads around
the graph. (A trailing ``Slice`` or an ``If`` for the general case cost 10-20%
of the frame rate when measured, so the graph leaves that to the caller.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pixbench.forensics.upscaler_config import UpscalerConfig
from pixbench.images import write_bytes_atomic
from pixbench.props import GRID_UPSCALER_ORDER, ModelProps

if TYPE_CHECKING:  # only the trained network's tensors are read here, so torch is not imported
    from pixbench.models.grid_upscaler import GridUpscaler

OPSET = 17


def config_of(model: GridUpscaler) -> UpscalerConfig:
    """The options of ``model`` as the graph records them in ``pixbench.model_args``."""
    return UpscalerConfig(**model.options)


def _projection(cfg: UpscalerConfig) -> np.ndarray:
    """``P = I - A``: subtract each ``s x s`` block's mean, per colour, in pixel-shuffle channel order."""
    g, s = cfg.cell, cfg.scale
    idx = np.arange(3 * g * g)
    c, i, j = idx // (g * g), (idx // g) % g, idx % g
    same = (c[:, None] == c[None]) & (i[:, None] // s == i[None] // s) & (j[:, None] // s == j[None] // s)
    return np.eye(idx.size) - same / (s * s)


def _nearest_base(cfg: UpscalerConfig) -> np.ndarray:
    """``3 G^2 x 3 p^2`` 0/1 matrix copying each low-res value into its block (torch channel orders)."""
    g, s, p = cfg.cell, cfg.scale, cfg.pack
    out = np.zeros((3 * g * g, 3 * p * p))
    for o in range(out.shape[0]):
        c, i, j = o // (g * g), (o // g) % g, o % g
        out[o, c * p * p + (i // s) * p + j // s] = 1.0
    return out


def _space_to_depth_order(cfg: UpscalerConfig) -> np.ndarray:
    """For each ONNX ``SpaceToDepth`` channel ``(i p + j) 3 + c``, the torch ``pixel_unshuffle`` channel."""
    p = cfg.pack
    return np.array([c * p * p + i * p + j for i in range(p) for j in range(p) for c in range(3)])


def folded_weights(model: GridUpscaler) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(weight, bias)`` of each graph convolution, in [0, 255] units, with ``u`` carried along.

    Every layer but the last outputs ``C`` features followed by the ``3 p^2``
    channels of ``u`` (identity centre tap, in ``SpaceToDepth`` order); the last
    one has the back-projection ``P`` and the nearest base folded in.
    """
    cfg = config_of(model)
    cin = 3 * cfg.pack**2
    order = _space_to_depth_order(cfg)
    sd = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}

    def carry(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ident = np.zeros((cin, w.shape[1], 3, 3))
        ident[np.arange(cin), w.shape[1] - cin + np.arange(cin), 1, 1] = 1.0
        return np.concatenate([w, ident]), np.concatenate([b, np.zeros(cin)])

    def split_inputs(w: np.ndarray) -> np.ndarray:
        # features stay as they are; the u columns move to SpaceToDepth order and to 255 units
        return np.concatenate([w[:, :-cin], w[:, -cin:][:, order] / 255.0], axis=1)

    layers = [carry(sd["first.weight"][:, order] / 255.0, sd["first.bias"])]
    for n in range(cfg.layers):
        layers.append(carry(split_inputs(sd[f"hidden.{n}.weight"]), sd[f"hidden.{n}.bias"]))
    proj = _projection(cfg)
    w = split_inputs(sd["last.weight"]) * 255.0
    w = np.einsum("oc,cikl->oikl", proj, w)
    w[:, -cin:, 0, 0] += _nearest_base(cfg)[:, order]
    layers.append((w, proj @ sd["last.bias"] * 255.0 + 0.5))
    return [(w.astype(np.float32), b.astype(np.float32)) for w, b in layers]


class _Nodes:
    """The nodes and initialisers of a graph being built; each node's output names it."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def node(self, op: str, inputs: list[str], out: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name


def _read_lowres(g: _Nodes, s: int, read: str) -> str:
    """The float low-res grid of the uint8 ``image``: block means (``mean``), or one pixel per block."""
    if read == "mean":
        x = g.node("Cast", ["image"], "image_float", to=TensorProto.FLOAT)
        return g.node("AveragePool", [x], "lowres", kernel_shape=[s, s], strides=[s, s])
    # one pixel per block: exact for nearest upscales, and reads 1/s of the image's rows
    for k, v in (("starts", [0, 0]), ("ends", [2**62, 2**62]), ("axes", [2, 3]), ("steps", [s, s])):
        g.const(k, np.array(v, np.int64))
    x = g.node("Slice", ["image", "starts", "ends", "axes", "steps"], "lowres_u8")
    return g.node("Cast", [x], "lowres", to=TensorProto.FLOAT)


def _network(g: _Nodes, x: str, model: GridUpscaler) -> str:
    """The folded convolutions (:func:`folded_weights`) on the packed grid ``x``, ReLU between them."""
    layers = folded_weights(model)
    for n, (w, b) in enumerate(layers):
        g.const(f"conv{n}.w", w)
        g.const(f"conv{n}.b", b)
        k = w.shape[-1]
        x = g.node("Conv", [x, f"conv{n}.w", f"conv{n}.b"], f"conv{n}", kernel_shape=[k, k], pads=[k // 2] * 4)
        if n < len(layers) - 1:
            x = g.node("Relu", [x], f"relu{n}")
    return x


def depixelator_props(cfg: UpscalerConfig, *, name: str | None = None) -> ModelProps:
    """What a grid upscaler graph declares: the full-size [0, 255] pixelated image in, its options recorded."""
    return ModelProps(
        task="depixelate",
        model=name or f"grid-upscaler-x{cfg.scale}",
        range="255",
        input="full",
        model_args=cfg.as_dict(),
    )


def build_depixelator_onnx(model: GridUpscaler, *, name: str | None = None, read: str = "mean") -> onnx.ModelProto:
    """The full-size depixelator graph of ``model`` with ``pixbench.*`` metadata."""
    cfg = config_of(model)
    g = _Nodes()
    x = _read_lowres(g, cfg.scale, read)
    if cfg.pack > 1:
        x = g.node("SpaceToDepth", [x], "packed", blocksize=cfg.pack)
    x = _network(g, x, model)
    # round to 8 bits on the low-res cells, where it is cheap: the last bias carries +0.5, Clip
    # (fused into the convolution by onnxruntime) bounds it, and Cast truncates
    g.const("zero", np.float32(0.0))
    g.const("top", np.float32(255.5 - 1e-3))
    x = g.node("Cast", [g.node("Clip", [x, "zero", "top"], "cells_clipped")], "cells", to=TensorProto.UINT8)
    g.node("DepthToSpace", [x], "depixelated", blocksize=cfg.cell, mode="CRD")
    graph = helper.make_graph(
        g.nodes,
        f"pixbench_grid_depixelator_x{cfg.scale}",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("depixelated", TensorProto.UINT8, ["N", 3, "H", "W"])],
        initializer=g.inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pixbench")
    proto.ir_version = 8
    depixelator_props(cfg, name=name).write(proto, GRID_UPSCALER_ORDER)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def save_depixelator_onnx(model: GridUpscaler, path: str | Path, *, name: str | None = None) -> Path:
    """Build the graph of ``model`` and write it atomically to ``path``."""
    path = Path(path)
    write_bytes_atomic(path, build_depixelator_onnx(model, name=name).SerializeToString())
    return path
