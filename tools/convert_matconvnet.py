"""Shared by ``convert_dncnn3.py`` and ``convert_vdsr.py``: a MatConvNet conv stack as an ONNX graph.

DnCNN-3 and VDSR are the same network: twenty 3x3 convolutions with padding 1, a ReLU after
every one but the last, 64 feature maps, one grey (luma) channel in and out, applied to the
whole image in [0, 1]. They differ only in how the last layer's output is used: DnCNN-3
predicts the degradation and subtracts it from the input, VDSR predicts the missing detail
and adds it. Both were trained and published with MatConvNet, whose ``vl_nnconv`` is a
cross-correlation (as ONNX ``Conv`` is) with filters stored ``height x width x in x out``.

This module holds what both conversions share: the layer record, the graph, the metadata
(through :class:`pixbench.props.ModelProps`, the one writer of the ``pixbench.*`` props, plus
``source.*`` props that say where the weights came from) and a small command-line frame.
It is not a pixbench module: the converters are tools, run by hand, and they need packages
pixbench itself does not (``h5py`` for MATLAB 7.3 files).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixbench import __version__
from pixbench.errors import ModelError, PixbenchError
from pixbench.images import write_bytes_atomic
from pixbench.props import ModelProps

#: ONNX opset and IR version, as pixbench's own graphs (``pixbench/baselines.py``).
OPSET, IR_VERSION = 17, 8
#: The key order of the ``pixbench.*`` props these converters write.
PROPS_ORDER = ("task", "model", "layout", "range", "channels", "input", "version")
#: Where the weights came from: written as ``source.<key>`` props after the ``pixbench.*`` ones. They stay
#: in the ONNX file (``evaluate`` copies only ``pixbench.*`` props); a result names the file by its SHA-256,
#: and the same weight file always converts to the same bytes.
SOURCE_KEYS = ("repository", "commit", "path", "sha256", "licence", "paper")
#: Where the converters write by default: git-ignored, since neither model may be redistributed.
DEFAULT_OUTPUT = Path("leaderboards/work/thirdparty")
#: Studio-range luma in [0, 1] from full-range luma in [0, 1]: ``offset + gain * y`` (BT.601: 16 + 219/255 * Y).
_STUDIO = {"studio_gain": 219.0 / 255.0, "studio_offset": 16.0 / 255.0}


@dataclass(frozen=True)
class ConvLayer:
    """One convolution: ``weight`` is ``out x in x kh x kw`` (ONNX order), ``bias`` has ``out`` values."""

    weight: np.ndarray
    bias: np.ndarray


def from_matconvnet(weight: np.ndarray, bias: np.ndarray) -> ConvLayer:
    """A layer from MatConvNet's ``kh x kw x in x out`` filters (a trailing ``out`` of 1 may be dropped).

    Raises:
        ModelError: The filters are not 3- or 4-dimensional, or the bias does not match.
    """
    w = np.asarray(weight, np.float32)
    if w.ndim == 3:  # MATLAB drops a trailing singleton dimension: the one-output last layer
        w = w[..., None]
    if w.ndim != 4:
        raise ModelError(f"expected kh x kw x in x out filters, got shape {np.shape(weight)}")
    b = np.asarray(bias, np.float32).reshape(-1)
    if b.size != w.shape[3]:
        raise ModelError(f"filters {w.shape} have {w.shape[3]} outputs but the bias has {b.size} values")
    return ConvLayer(np.ascontiguousarray(w.transpose(3, 2, 0, 1)), b)


def check_stack(layers: list[ConvLayer], *, name: str) -> None:
    """Refuse a stack that is not a 1-channel-in, 1-channel-out chain of odd square kernels.

    Raises:
        ModelError: Naming the first layer that does not fit.
    """
    if not layers:
        raise ModelError(f"{name}: no convolution layers found")
    channels = 1
    for i, layer in enumerate(layers):
        out, inp, kh, kw = layer.weight.shape
        if inp != channels or kh != kw or kh % 2 == 0:
            raise ModelError(
                f"{name}: layer {i + 1} has filters {out}x{inp}x{kh}x{kw} (out x in x h x w); "
                f"expected {channels} input channels and an odd square kernel"
            )
        channels = out
    if channels != 1:
        raise ModelError(f"{name}: the last layer has {channels} outputs, expected 1 (a luma image)")


def residual_graph(layers: list[ConvLayer], *, subtract: bool, name: str, studio_luma: bool = False):
    """The ONNX graph of the stack: ``x - f(x)`` (``subtract``, DnCNN) or ``x + f(x)`` (VDSR).

    ``image`` is ``N x 1 x H x W`` float, any size; the output ``restored`` has the same shape.
    Every convolution pads by half its kernel, so the size is kept, as MatConvNet's ``'Pad', 1``.

    ``studio_luma``: the network was trained on BT.601 studio-range luma (MATLAB ``rgb2ycbcr``,
    16 to 235 of 255) but pixbench feeds full-range luma (``channels=y``, 0 to 255): the graph
    maps its input to studio range first (``16/255 + 219/255 * x``, node ``to_studio_luma``)
    and its output back (``(y - 16/255) * 255/219``, node ``from_studio_luma``). Both ranges are
    the same weighted sum of R, G and B, so the network sees exactly the values it was tested on.
    """
    from onnx import TensorProto, helper, numpy_helper

    check_stack(layers, name=name)
    nodes, inits, x = [], [], "image"
    if studio_luma:
        inits += [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in _STUDIO.items()]
        nodes += [
            helper.make_node("Mul", ["image", "studio_gain"], ["studio_scaled"], name="to_studio_scaled"),
            helper.make_node("Add", ["studio_scaled", "studio_offset"], ["studio"], name="to_studio_luma"),
        ]
        x = "studio"
    source = x
    for i, layer in enumerate(layers, start=1):
        pad = layer.weight.shape[2] // 2
        inits += [numpy_helper.from_array(layer.weight, f"conv{i}.weight")]
        inits += [numpy_helper.from_array(layer.bias, f"conv{i}.bias")]
        nodes.append(
            helper.make_node(
                "Conv", [x, f"conv{i}.weight", f"conv{i}.bias"], [f"conv{i}"], pads=[pad] * 4, name=f"conv{i}"
            )
        )
        x = f"conv{i}"
        if i < len(layers):
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
    out = "restored_studio" if studio_luma else "restored"
    nodes.append(helper.make_node("Sub" if subtract else "Add", [source, x], [out], name="residual"))
    if studio_luma:
        nodes += [
            helper.make_node("Sub", [out, "studio_offset"], ["full_shifted"], name="from_studio_shifted"),
            helper.make_node("Div", ["full_shifted", "studio_gain"], ["restored"], name="from_studio_luma"),
        ]
    shape = ["N", 1, "H", "W"]
    return helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("restored", TensorProto.FLOAT, shape)],
        initializer=inits,
    )


def luma_props(task: str, model: str, *, full_input: bool) -> ModelProps:
    """The props of a luma-only model in [0, 1]; ``full_input``: it takes the bicubic upscale, not the low-res grid."""
    return ModelProps(
        task=task, model=model, layout="nchw", range="01", channels="y", input="full" if full_input else None
    )


def model_proto(graph, props: ModelProps, source: dict[str, str], *, studio_luma: bool):
    """The checked ``ModelProto``: the graph, the ``pixbench.*`` props, the ``source.*`` props, ``conversion.luma``.

    ``conversion.luma`` is ``studio`` where the graph maps pixbench's full-range luma to studio
    range and back (:func:`residual_graph`), ``full`` where the network takes the values as fed.

    Raises:
        ModelError: ``source`` lacks one of :data:`SOURCE_KEYS` or has another key.
    """
    import onnx
    from onnx import helper

    if sorted(source) != sorted(SOURCE_KEYS):
        raise ModelError(f"source props: expected keys {', '.join(SOURCE_KEYS)}, got {', '.join(sorted(source))}")
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pixbench", producer_version=__version__
    )
    model.ir_version = IR_VERSION
    props.write(model, PROPS_ORDER)
    extra = {f"source.{key}": source[key] for key in SOURCE_KEYS}
    extra["conversion.luma"] = "studio" if studio_luma else "full"
    for key, value in extra.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def save(model, path: Path) -> str:
    """Write ``model`` to ``path`` atomically; return its SHA-256."""
    data = model.SerializeToString()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (the weight file a conversion read)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pinned_source(path: Path, source: dict[str, str], *, any_file: bool) -> dict[str, str]:
    """The ``source`` props of the weight file at ``path``, checked against the published file's SHA-256.

    Raises:
        ModelError: No such file, or another file than the published one and not ``any_file``.
    """
    if not Path(path).is_file():
        raise ModelError(f"{path}: no such file")
    digest = file_sha256(path)
    if digest == source["sha256"]:
        return dict(source)
    if not any_file:
        raise ModelError(
            f"{path}: SHA-256 {digest[:12]}... is not the published {source['path']} of {source['repository']} "
            f"({source['sha256'][:12]}...); pass --any-file to convert it anyway"
        )
    return {**source, "commit": "unknown", "path": str(path), "sha256": digest}


def run_cli(description: str, weights_help: str, convert, source: dict[str, str], argv: list[str] | None) -> int:
    """The command line both converters share: ``WEIGHTS [-o DIR] [--any-file]``; errors are one line, exit 1."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help=weights_help)
    parser.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_OUTPUT, help=f"folder to write into (default {DEFAULT_OUTPUT})"
    )
    parser.add_argument("--any-file", action="store_true", help="convert a file other than the published one")
    args = parser.parse_args(argv)
    try:
        checked = pinned_source(args.weights, source, any_file=args.any_file)
        for path, sha in convert(args.weights, args.output, source=checked).items():
            print(f"{path}  sha256:{sha}")
    except PixbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
