"""The parts of a result that are not task metrics: speed, FLOPs and the environment they were measured in.

The pass/fail targets these numbers are checked against belong to the result format
(:func:`pixbench.results.targets`).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

from pixbench import __version__
from pixbench.results import Environment, Speed
from pixbench.runtime import BLOCK, CONTEXT, InputSpec, Model, OnnxModel, Runner, frame_call, time_call

FULL_HD = (1080, 1920)


def measure_speed(runner: Runner, native: tuple[int, int] | None, *, warmup: int, runs: int) -> Speed:
    """FPS and latency for one frame at 1920x1080 and at the dataset's native size.

    A frame is processed the way evaluation processes a sample (adapters, tiles,
    crops or block sliding included), so the numbers are those of a deployment.
    """
    speed = Speed(provider=runner.model.provider, threads=runner.model.threads, warmup=warmup, runs=runs)
    speed.fps_1080p, speed.latency_ms_median_1080p, speed.latency_ms_p90_1080p = _frame_times(
        runner, FULL_HD, warmup=warmup, runs=runs
    )
    if native is not None:
        speed.fps_native, speed.latency_ms_median_native, speed.latency_ms_p90_native = _frame_times(
            runner, native, warmup=warmup, runs=runs
        )
    speed.native_size = list(native) if native else None
    return speed


def _frame_times(runner: Runner, size: tuple[int, int], *, warmup: int, runs: int) -> tuple[float, float, float]:
    """FPS, median and 90th-percentile latency (ms) of one ``size`` frame, rounded to 3 decimals."""
    t = time_call(frame_call(runner, *size), warmup=warmup, runs=runs)
    return round(t["fps"], 3), round(t["latency_ms_median"], 3), round(t["latency_ms_p90"], 3)


_MAC_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def estimate_flops(model: Model, spec: InputSpec, height: int, width: int) -> float | None:
    """FLOPs (2 x multiply-accumulates of Conv, ConvTranspose, Gemm, MatMul) for one ``height x width`` frame.

    Shapes come from ONNX shape inference with the image input fixed to the frame
    size (or to the tile size, times the number of tiles, for fixed-size models).
    Other operators are ignored, so this is a lower bound; ``None`` where shapes
    cannot be inferred or the model is not ONNX.
    """
    if not isinstance(model, OnnxModel):
        return None
    import onnx

    try:
        proto = onnx.load(str(model.path))
    except Exception:  # an external-data or exotic model: FLOPs are optional
        return None
    h, w, reps = _model_calls(spec, height, width)
    _fix_input_shapes(proto, spec, h, w)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:  # shape inference fails on some custom graphs: FLOPs are optional
        return None
    macs = _count_macs(inferred)
    return None if macs is None else float(2 * macs * reps)


def _model_calls(spec: InputSpec, height: int, width: int) -> tuple[int, int, int]:
    """The input height and width of one model call for a ``height x width`` frame, and the calls per frame."""
    h, w = height // spec.scale, width // spec.scale
    if spec.blockwise:
        return CONTEXT, CONTEXT, (height // BLOCK) * (width // BLOCK)
    if spec.tile:
        th, tw = spec.tile
        reps = max(1, -(-h // (th - min(32, th // 4)))) * max(1, -(-w // (tw - min(32, tw // 4))))
        return th, tw, reps
    return h, w, 1


def _fix_input_shapes(proto: Any, spec: InputSpec, h: int, w: int) -> None:
    """Set every 4-D graph input to batch 1 and ``h x w`` (channels as the spec feeds them), in place."""
    for inp in proto.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if len(dims) != 4:
            continue
        c = 1 if spec.channels == "y" else 3
        if spec.mask_input == "channel" and inp.name == spec.image_input:
            c = 4
        if spec.mask_input == "separate" and inp.name == spec.mask_name:
            c = 1
        for d, v in zip(dims, (1, c, h, w) if spec.layout == "nchw" else (1, h, w, c)):
            d.ClearField("dim_param")
            d.dim_value = v


def _count_macs(inferred: Any) -> int | None:
    """Multiply-accumulates of the Conv, ConvTranspose, Gemm and MatMul nodes; None where a shape is unknown."""
    shapes = {
        vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    }
    shapes.update({t.name: list(t.dims) for t in inferred.graph.initializer})
    total = 0
    for node in inferred.graph.node:
        if node.op_type not in _MAC_OPS:
            continue
        a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
        y = shapes.get(node.output[0])
        if not a or not b or not y or 0 in a + b + y:
            return None
        if node.op_type == "Conv":  # every output element needs Cin/group * kH * kW MACs
            total += int(np.prod(y)) * int(np.prod(b[1:]))
        elif node.op_type == "ConvTranspose":  # every input element spreads over Cout/group * kH * kW
            total += int(np.prod(a)) * int(np.prod(b[1:]))
        else:
            total += int(np.prod(y)) * a[-1]
    return total


def environment(model: Model) -> Environment:
    """Versions, execution provider and CPU of this run, as recorded in ``environment``."""
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return Environment(
        pixbench=__version__,
        onnxruntime=onnxruntime.__version__,
        provider=model.provider,
        cpu=cpu,
        cores=os.cpu_count(),
        platform=platform.platform(),
        python=platform.python_version(),
    )
