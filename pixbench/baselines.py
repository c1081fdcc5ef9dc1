"""Classical baselines that go through the same evaluator as any user model.

Most are real ONNX files built with ``onnx.helper`` (``pixbench baseline NAME -o
file.onnx``), so scoring a baseline exercises exactly the path a user's model
takes. Biharmonic inpainting is an iterative solver that ONNX cannot express; it
is written as a *JSON model file* instead: a small JSON document

```json
{"format": "pixbench-python-model", "format_version": 1, "baseline": "biharmonic",
 "props": {"pixbench.task": "inpaint", ...}}
```

which :func:`pixbench.runtime.load_model` turns into a
:class:`pixbench.runtime.PythonModel` with the same inputs, outputs and props
interface as an onnxruntime session.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pixbench import __version__
from pixbench.degradations.blocks import BLOCK, CONTEXT
from pixbench.errors import ModelError
from pixbench.images import write_bytes_atomic
from pixbench.props import BASELINE_ORDER, ModelProps
from pixbench.registry import Registry
from pixbench.runtime import PYTHON_MODEL_FORMAT
from pixbench.tasks import RESTORATION_TASKS, get_task

OPSET, IR_VERSION = 17, 8


def _model(nodes: list, inputs: list, outputs: list, inits: list, props: ModelProps):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "baseline", inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pixbench", producer_version=__version__
    )
    model.ir_version = IR_VERSION
    props.write(model, BASELINE_ORDER)
    onnx.checker.check_model(model)
    return model


def _image(name: str, channels: int):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", channels, "H", "W"])


def _const(name: str, values: Any, dtype: Any = np.float32):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def identity(*, task: str = "jpeg") -> Any:
    """The degraded input, unchanged: the "do nothing" line every model must beat.

    A task whose samples carry a mask gets it as a 4th channel and the model returns the
    first three; a blockwise task gets the centre 8x8 block of each 24x24 context.
    """
    from onnx import helper

    if task not in RESTORATION_TASKS:
        raise ModelError(f"identity baseline: task {task!r} is not one of {', '.join(RESTORATION_TASKS)}")
    kind = get_task(task)
    props = ModelProps(
        task=task,
        model="identity",
        input="full" if kind.takes_lowres else None,
        mask_input="channel" if kind.takes_mask else None,
    )
    if kind.blockwise:
        centre = (CONTEXT - BLOCK) // 2
        starts, ends, axes = [centre, centre], [centre + BLOCK, centre + BLOCK], [2, 3]
        x = _image("x", 3)
    elif kind.takes_mask:
        starts, ends, axes = [0], [3], [1]
        x = _image("x", 4)
    else:
        return _model([helper.make_node("Identity", ["x"], ["y"])], [_image("x", 3)], [_image("y", 3)], [], props)
    inits = [_const("starts", starts, np.int64), _const("ends", ends, np.int64), _const("axes", axes, np.int64)]
    return _model(
        [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])], [x], [_image("y", 3)], inits, props
    )


def _upscale_props(name: str, scale: int) -> ModelProps:
    return ModelProps(task="depixelate", model=f"{name}-x{scale}", input="lowres", scale=scale)


def cubic_kernel(scale: int, a: float = -0.5) -> tuple[np.ndarray, int]:
    """1-D Keys cubic upscaling kernel (``a = -0.5``, as Pillow's bicubic) as a transposed-convolution filter.

    Output pixel ``o`` has centre ``(o + 0.5) / scale - 0.5`` on the low-res grid,
    so input ``i`` contributes ``W(u)`` with ``u`` that centre minus ``i``; the filter
    is indexed by ``t = o - i * scale``.

    Returns:
        The filter taps and the offset ``t`` of the first tap.
    """
    t, u = _offsets(scale, 2)
    return _normalise(keys_cubic(u, a), t, scale), int(t[0])


def keys_cubic(u: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution weight at distance ``u`` (support 2): ``a = -0.5`` is Pillow's, ``-0.75`` torch's."""
    x = np.abs(np.asarray(u, dtype=np.float64))
    return np.where(
        x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1, np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0)
    )


def lanczos_kernel(scale: int, a: int = 3) -> tuple[np.ndarray, int]:
    """1-D Lanczos-``a`` upscaling kernel as a transposed-convolution filter (see :func:`cubic_kernel`)."""
    t, u = _offsets(scale, a)
    taps = np.where(np.abs(u) < a, np.sinc(u) * np.sinc(u / a), 0.0)
    return _normalise(taps, t, scale), int(t[0])


def _offsets(scale: int, support: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(math.floor(-(support - 0.5) * scale - 0.5), math.ceil((support + 0.5) * scale - 0.5) + 1)
    return t, (t + 0.5) / scale - 0.5


def _normalise(taps: np.ndarray, t: np.ndarray, scale: int) -> np.ndarray:
    """Make each of the ``scale`` output phases sum to 1 (as Pillow does), so flat areas stay flat."""
    for phase in range(scale):
        sel = (t % scale) == phase
        taps[sel] /= taps[sel].sum()
    return taps.astype(np.float32)


def _separable_upscale(name: str, scale: int, taps: np.ndarray, t_min: int, pad: int) -> Any:
    """Edge-pad the grid, then two depthwise ``ConvTranspose`` passes (rows, columns), then crop.

    Separable passes cost ``2 k`` instead of ``k * k`` multiplies per tap position.
    """
    from onnx import helper

    k = len(taps)
    start = pad * scale - t_min
    end_off = (pad - 1) * scale + k + t_min  # output pixels after the wanted ones
    if start < 0 or end_off <= 0:
        raise ModelError(f"{name} baseline: scale {scale} gives an unusable kernel layout")
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["xp"], mode="edge"),
        helper.make_node("ConvTranspose", ["xp", "wy"], ["up_y"], group=3, strides=[scale, 1], kernel_shape=[k, 1]),
        helper.make_node("ConvTranspose", ["up_y", "wx"], ["up"], group=3, strides=[1, scale], kernel_shape=[1, k]),
        helper.make_node("Slice", ["up", "starts", "ends", "axes"], ["y"]),
    ]
    inits = [
        _const("pads", [0, 0, pad, pad, 0, 0, pad, pad], np.int64),
        _const("wy", np.broadcast_to(taps.reshape(k, 1), (3, 1, k, 1))),
        _const("wx", np.broadcast_to(taps.reshape(1, k), (3, 1, 1, k))),
        _const("starts", [start, start], np.int64),
        _const("ends", [-end_off, -end_off], np.int64),
        _const("axes", [2, 3], np.int64),
    ]
    return _model(nodes, [_image("x", 3)], [_image("y", 3)], inits, _upscale_props(name, scale))


def bicubic(*, scale: int = 4) -> Any:
    """Bicubic re-interpolation of the low-res grid (Keys a = -0.5, half-pixel centres, edge-padded)."""
    _check_scale(scale)
    return _separable_upscale("bicubic", scale, *cubic_kernel(scale), pad=2)


def lanczos(*, scale: int = 4) -> Any:
    """Lanczos-3 re-interpolation of the low-res grid as fixed-kernel depthwise ``ConvTranspose`` passes."""
    _check_scale(scale)
    return _separable_upscale("lanczos", scale, *lanczos_kernel(scale), pad=3)


def constant_detector(*, value: float = 1.0) -> Any:
    """A detector that answers ``value`` (a probability) for every image; 1.0 says "always degraded"."""
    from onnx import TensorProto, helper

    if not 0.0 <= value <= 1.0:
        raise ModelError(f"constant baseline: value {value} is not a probability in [0, 1]")
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "value"], ["p0"]),
        helper.make_node("Unsqueeze", ["p0", "one"], ["p"]),
    ]
    out = helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1])
    props = ModelProps(task="detect", model=f"constant-{value:g}", output="probability")
    inits = [_const("zero", 0.0), _const("value", value), _const("one", [1], np.int64)]
    return _model(nodes, [_image("x", 3)], [out], inits, props)


#: Pyramid levels of the push-pull fill (2**8 = 256 px blocks at the top, enough for any hole of a recipe).
PUSHPULL_LEVELS = 8


def pushpull(*, levels: int = PUSHPULL_LEVELS) -> Any:
    """Push-pull inpainting: holes filled from the known pixels, coarse to fine, in one graph.

    Going down, ``levels`` times: 2x2 average pools (``ceil_mode``) of the known pixels'
    values and of the known share, each divided by the pooled count of real pixels (so edge
    windows are exact however the runtime counts them). At the top the fill is value over
    share; coming up, each level's fill is its own average of known values plus the
    bilinear upsampling of the coarser fill times the unknown share. Known pixels are kept.
    The same fill starts ``pix2pix-inpainter`` with ``fill=true`` (``docs/models.md``).
    """
    from onnx import helper

    if not isinstance(levels, int) or not 1 <= levels <= 12:
        raise ModelError(f"pushpull baseline: levels must be an integer from 1 to 12, got {levels!r}")
    nodes = [
        helper.make_node("Slice", ["x", "rgb_start", "rgb_end", "channel_axis"], ["image"]),
        helper.make_node("Slice", ["x", "rgb_end", "mask_end", "channel_axis"], ["mask"]),
        helper.make_node("Sub", ["one", "mask"], ["c0"]),
        helper.make_node("Mul", ["image", "c0"], ["v0"]),
        *_push_nodes(levels),
        *_pull_nodes(levels),
        helper.make_node("Mul", ["f0", "mask"], ["hole"]),
        helper.make_node("Add", ["v0", "hole"], ["y"]),
    ]
    inits = [
        _const("rgb_start", [0], np.int64),
        _const("rgb_end", [3], np.int64),
        _const("mask_end", [4], np.int64),
        _const("channel_axis", [1], np.int64),
        _const("one", 1.0),
        _const("zero", 0.0),
        _const("tiny", 1e-6),
    ]
    props = ModelProps(task="inpaint", model="pushpull", mask_input="channel")
    return _model(nodes, [_image("x", 4)], [_image("y", 3)], inits, props)


def _push_nodes(levels: int) -> list:
    """Going down: level ``k`` holds ``v{k}`` (mean known value) and ``c{k}`` (known share); the top fill ``f{levels}``."""
    from onnx import helper

    pool = {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}
    nodes = []
    for k in range(1, levels + 1):
        nodes += [
            helper.make_node("Mul", [f"c{k - 1}", "zero"], [f"z{k}"]),
            helper.make_node("Add", [f"z{k}", "one"], [f"ones{k}"]),
            helper.make_node("AveragePool", [f"ones{k}"], [f"n{k}"], **pool),
            helper.make_node("AveragePool", [f"v{k - 1}"], [f"vs{k}"], **pool),
            helper.make_node("Div", [f"vs{k}", f"n{k}"], [f"v{k}"]),
            helper.make_node("AveragePool", [f"c{k - 1}"], [f"cs{k}"], **pool),
            helper.make_node("Div", [f"cs{k}", f"n{k}"], [f"c{k}"]),
        ]
    return nodes + [
        helper.make_node("Max", [f"c{levels}", "tiny"], ["ctop"]),
        helper.make_node("Div", [f"v{levels}", "ctop"], [f"f{levels}"]),
    ]


def _pull_nodes(levels: int) -> list:
    """Coming up: ``f{k}`` is ``v{k}`` plus the bilinear upsampling of ``f{k+1}`` times the unknown share."""
    from onnx import helper

    nodes = []
    for k in range(levels - 1, -1, -1):
        nodes += [
            helper.make_node("Shape", [f"v{k}"], [f"size{k}"]),
            helper.make_node(
                "Resize",
                [f"f{k + 1}", "", "", f"size{k}"],
                [f"up{k}"],
                mode="linear",
                coordinate_transformation_mode="half_pixel",
            ),
            helper.make_node("Sub", ["one", f"c{k}"], [f"u{k}"]),
            helper.make_node("Mul", [f"up{k}", f"u{k}"], [f"w{k}"]),
            helper.make_node("Add", [f"v{k}", f"w{k}"], [f"f{k}"]),
        ]
    return nodes


def flatness(*, cell: int = 8) -> Any:
    """Mosaic localization by flatness: the share of pixels whose right and lower neighbours are equal to them.

    Box cells upscaled by repetition leave runs of identical pixels; the share of pixels with
    a zero horizontal *and* vertical difference (on the sum of R, G and B, so "equal" means
    all three channels) is averaged over ``cell x cell`` cells and then 3x3 cells, and
    repeated back over every pixel: ``N x 1 x H x W``, read as a probability (0.5: half the
    neighbourhood is flat). It knows nothing of grids, so flat graphics and clipped areas
    light up, and a mosaic re-encoded as JPEG loses its exact zeros.
    """
    from onnx import TensorProto, helper

    if not isinstance(cell, int) or not 2 <= cell <= 64:
        raise ModelError(f"flatness baseline: cell must be an integer from 2 to 64, got {cell!r}")
    nodes = [helper.make_node("ReduceSum", ["x", "channel_axis"], ["grey"], keepdims=1)]
    for axis, name in ((3, "dx"), (2, "dy")):
        ax = f"axis{axis}"
        nodes += [
            helper.make_node("Slice", ["grey", "one_i", "big", ax], [f"{name}_a"]),
            helper.make_node("Slice", ["grey", "zero_i", "minus_one", ax], [f"{name}_b"]),
            helper.make_node("Equal", [f"{name}_a", f"{name}_b"], [f"{name}_eq"]),
            helper.make_node("Slice", [f"{name}_eq", "minus_one", "big", ax], [f"{name}_last"]),
            helper.make_node("Concat", [f"{name}_eq", f"{name}_last"], [name], axis=axis),
        ]
    nodes += [
        helper.make_node("And", ["dx", "dy"], ["flat_b"]),
        helper.make_node("Cast", ["flat_b"], ["flat"], to=TensorProto.FLOAT),
        helper.make_node(
            "AveragePool", ["flat"], ["cells"], kernel_shape=[cell, cell], strides=[cell, cell], ceil_mode=1
        ),
        helper.make_node(
            "AveragePool", ["cells"], ["near"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0
        ),
        helper.make_node("Resize", ["near", "", "scales"], ["up"], mode="nearest"),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "two", "four", "zero_i"], ["size"]),
        helper.make_node("Slice", ["up", "zeros2", "size", "axes23"], ["p"]),
    ]
    inits = [
        _const("channel_axis", [1], np.int64),
        _const("axis2", [2], np.int64),
        _const("axis3", [3], np.int64),
        _const("zero_i", [0], np.int64),
        _const("one_i", [1], np.int64),
        _const("minus_one", [-1], np.int64),
        _const("big", [2**62], np.int64),
        _const("two", [2], np.int64),
        _const("four", [4], np.int64),
        _const("zeros2", [0, 0], np.int64),
        _const("axes23", [2, 3], np.int64),
        _const("scales", [1.0, 1.0, cell, cell]),
    ]
    out = helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1, "H", "W"])
    props = ModelProps(task="localize", model="flatness", output="probability")
    return _model(nodes, [_image("x", 3)], [out], inits, props)


def grid_localizer() -> Any:
    """The analytic grid detector turned local (:mod:`pixbench.forensics.grid_localizer`)."""
    from pixbench.forensics.grid_localizer import build_localizer_onnx

    return build_localizer_onnx()


def _check_scale(scale: int) -> None:
    if not isinstance(scale, int) or not 2 <= scale <= 16:
        raise ModelError(f"--scale {scale!r} must be an integer from 2 to 16 (the dataset's pixelation factor)")


# ---------------------------------------------------------------------------------------------
# JSON model files (baselines ONNX cannot express)


def biharmonic() -> dict[str, Any]:
    """Biharmonic inpainting (``skimage.restoration.inpaint_biharmonic``) as a JSON model file."""
    props = ModelProps(task="inpaint", model="biharmonic", layout="nhwc", mask_input="separate")
    return {
        "format": PYTHON_MODEL_FORMAT,
        "format_version": 1,
        "baseline": "biharmonic",
        "props": props.metadata(BASELINE_ORDER),
    }


#: Baseline name -> (factory, options it takes, what it is).
BASELINES: Registry[tuple[Callable[..., Any], tuple[str, ...], str]] = Registry("baseline")
BASELINES.register("identity", (identity, ("task",), "the degraded input unchanged (restoration tasks)"))
BASELINES.register("bicubic", (bicubic, ("scale",), "bicubic upscale of the low-res grid (depixelate)"))
BASELINES.register("lanczos", (lanczos, ("scale",), "Lanczos-3 upscale of the low-res grid (depixelate)"))
BASELINES.register("constant", (constant_detector, ("value",), "constant-probability detector (detect)"))
BASELINES.register("biharmonic", (biharmonic, (), "biharmonic inpainting, a JSON model file (inpaint)"))
BASELINES.register("pushpull", (pushpull, (), "push-pull pyramid fill of the holes, an ONNX graph (inpaint)"))
BASELINES.register("flatness", (flatness, (), "share of pixels equal to their neighbours, per cell (localize)"))
BASELINES.register(
    "grid-localizer", (grid_localizer, (), "the grid detector's zero-difference profiles per cell (localize)")
)


def write_baseline(name: str, output: str | os.PathLike, **options: Any) -> Path:
    """Build baseline ``name`` and write it atomically to ``output`` (``.onnx``, or ``.json`` for Python models).

    Options a baseline does not take are ignored (the CLI offers all of them).
    """
    factory, takes, _ = BASELINES.get(name)
    built = factory(**{k: v for k, v in options.items() if k in takes and v is not None})
    out = Path(output)
    if isinstance(built, dict):
        write_bytes_atomic(out, (json.dumps(built, indent=2, sort_keys=True) + "\n").encode())
    else:
        write_bytes_atomic(out, built.SerializeToString())
    return out
