"""The parts of a result that are not task metrics: speed, FLOPs and the environment they were measured in.

The pass/fail targets these numbers are checked against belong to the result format
(:func:`pixbench.results.targets`). :func:`retime_result` measures the speed of an existing
result again, on this host, without scoring anything: how a published table gets every row
of its FPS column from one host and one run (``leaderboards/retime.py``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.errors import ModelError
from pixbench.results import Environment, Result, Speed, code_identity, host_identity, targets
from pixbench.runtime import (
    BLOCK,
    CONTEXT,
    CpuWindow,
    InputSpec,
    Model,
    OnnxModel,
    Runner,
    frame_call,
    load_model,
    other_cpu,
    resolve_spec,
    time_call,
)

FULL_HD = (1080, 1920)


def measure_speed(
    runner: Runner, native: tuple[int, int] | None, *, warmup: int, runs: int, run: str | None = None
) -> Speed:
    """FPS and latency for one frame at 1920x1080 and at the dataset's native size.

    A frame is processed the way evaluation processes a sample (adapters, tiles,
    crops or block sliding included), so the numbers are those of a deployment.
    ``run`` names the timing run this belongs to (:attr:`Speed.run`); the load average
    at the start and the size a resizing graph works at are recorded with the times.
    """
    speed = Speed(provider=runner.model.provider, threads=runner.model.threads, warmup=warmup, runs=runs)
    load = _load_average()
    full = _frame_times(runner, FULL_HD, warmup=warmup, runs=runs)
    _fill(speed, full, _frame_times(runner, native, warmup=warmup, runs=runs) if native else None)
    speed.native_size = list(native) if native else None
    speed.input_resized_to = input_resize(runner.model, runner.spec, *FULL_HD)
    speed.run, speed.load_1min = run, load
    return speed


#: FPS, median and p90 latency (ms) of one frame size, and what the host's CPUs did meanwhile.
FrameTiming = tuple[float, float, float, CpuWindow | None]
#: Frame timings of one retiming run, by how a model file is fed and the frame size (:func:`retime_result`).
FrameTimes = dict[tuple, FrameTiming]


def retime_result(
    result: Result,
    model_path: str | Path,
    *,
    warmup: int,
    runs: int,
    run: str | None,
    threads: int | None = None,
    shared: FrameTimes | None = None,
) -> Result:
    """``result`` with its ``speed`` and ``environment`` measured again on this host; the scores are kept.

    The model is fed as the evaluation recorded it (the ``--layout/--range/--channels`` overrides,
    the tile overlap) and timed at 1080p and at the recorded native size. ``environment`` then
    describes this timing; the scores do not depend on the host. ``settings.speed_warmup`` and
    ``speed_runs`` and the FPS target follow the new timing.

    Args:
        shared: Frame timings of this run so far, filled as frames are timed: a model file fed the same
            way (same sha256, layout, range, channels, tiles, inputs, threads) at the same frame size is
            timed once and its timing given to every result that scored it (a model in two tables).

    Raises:
        ModelError: The model file is not the one the result scored (another sha256).
    """
    model = load_model(model_path, threads=threads)
    if model.sha256 != result.sha256:
        raise ModelError(
            f"{model_path}: sha256 {model.sha256[:12]} is not the model {result.path or 'the result'} scored "
            f"({result.sha256[:12]}); re-evaluate instead of re-timing"
        )
    o = result.settings.overrides
    spec = resolve_spec(model, result.task, layout=o.layout, range_=o.range, channels=o.channels)
    overlap = result.settings.overlap if result.settings.overlap is not None else 32
    runner = Runner(model, spec, overlap=overlap)
    old = result.speed.native_size if result.speed is not None else None
    native = (int(old[0]), int(old[1])) if old and len(old) == 2 else None
    feed = (model.sha256, spec.layout, spec.range, spec.channels, spec.tile, spec.blockwise, spec.input, spec.scale)
    feed += (spec.mask_input, spec.task_info.takes_mask, overlap, model.threads, warmup, runs)
    timings = shared if shared is not None else {}

    def frame(size: tuple[int, int]) -> FrameTiming:
        if (feed, size) not in timings:
            timings[(feed, size)] = _frame_times(runner, size, warmup=warmup, runs=runs)
        return timings[(feed, size)]

    speed = Speed(provider=model.provider, threads=model.threads, warmup=warmup, runs=runs, run=run)
    speed.load_1min = _load_average()
    _fill(speed, frame(FULL_HD), frame(native) if native is not None else None)
    speed.native_size = list(native) if native else None
    speed.input_resized_to = input_resize(model, spec, *FULL_HD)
    settings = dataclasses.replace(result.settings, speed_warmup=warmup, speed_runs=runs)
    accuracy = result.model_metrics.get("accuracy")
    checked = targets(result.task, accuracy, result.model.size_mb or 0.0, speed.fps_1080p)
    return dataclasses.replace(result, speed=speed, settings=settings, targets=checked, environment=environment(model))


def _fill(speed: Speed, full: FrameTiming, native: FrameTiming | None) -> None:
    """Put the 1080p and native-size timings into ``speed``, and the other work on the host over both."""
    speed.fps_1080p, speed.latency_ms_median_1080p, speed.latency_ms_p90_1080p = full[:3]
    if native is not None:
        speed.fps_native, speed.latency_ms_median_native, speed.latency_ms_p90_native = native[:3]
    speed.other_cpu = other_cpu([full[3]] + ([native[3]] if native is not None else []))


def _load_average() -> float | None:
    """The 1-minute load average, rounded to 2 decimals; None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _frame_times(runner: Runner, size: tuple[int, int], *, warmup: int, runs: int) -> FrameTiming:
    """FPS, median and 90th-percentile latency (ms) of one ``size`` frame, rounded to 3 decimals, and
    what the host's CPUs did while the frames were timed."""
    t = time_call(frame_call(runner, *size), warmup=warmup, runs=runs)
    return round(t["fps"], 3), round(t["latency_ms_median"], 3), round(t["latency_ms_p90"], 3), t["cpu_window"]


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
    """The code and the machine of this run, as recorded in ``environment`` (:mod:`pixbench.results.host`)."""
    import onnxruntime

    host, code = host_identity(), code_identity()
    return Environment(
        pixbench=code["pixbench"],
        revision=code["revision"],
        onnxruntime=onnxruntime.__version__,
        numpy=code["numpy"],
        pillow=code["pillow"],
        provider=model.provider,
        cpu=host["cpu"],
        cpu_flags=host["cpu_flags"],
        isa=host["isa"],
        cores=host["cores"],
        threads=model.threads,
        platform=host["platform"],
        python=host["python"],
        date=code["date"],
    )


#: Operators that keep an image's height and width: a Resize behind only these still sees the input.
_PASS_THROUGH = ("Cast", "Identity", "Mul", "Div", "Add", "Sub", "Clip", "Transpose", "Unsqueeze", "Squeeze")


def input_resize(model: Model, spec: InputSpec, height: int, width: int) -> list[int] | None:
    """``[h, w]`` that the graph resizes a ``height x width`` frame to before its network, else None.

    Found by reading the graph: a ``Resize`` (or ``Upsample``) node fed by the image input, directly
    or through operators that keep the image's size (:data:`_PASS_THROUGH`), whose output shape
    (ONNX shape inference with data propagation, the input fixed to the frame) is smaller than the
    frame. Such a model computes on a thumbnail, so its FPS and its scores are those of that size;
    tables say so in its row. None for Python models, tiled or blockwise models and unknown shapes.
    """
    if not isinstance(model, OnnxModel) or spec.tile or spec.blockwise:
        return None
    import onnx

    try:
        proto = onnx.load(str(model.path))
        h, w, _ = _model_calls(spec, height, width)
        _fix_input_shapes(proto, spec, h, w)
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception:  # an external-data or exotic model: the resize note is optional
        return None
    fed = {spec.image_input}
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in inferred.graph.value_info}
    for node in inferred.graph.node:  # nodes are topologically sorted
        if not node.input or node.input[0] not in fed:
            continue
        if node.op_type in ("Resize", "Upsample"):
            out = shapes.get(node.output[0], [])
            size = (out[2:4] if spec.layout == "nchw" else out[1:3]) if len(out) == 4 else []
            if len(size) == 2 and 0 not in size and (size[0] < h or size[1] < w):
                return [int(size[0]), int(size[1])]
        elif node.op_type in _PASS_THROUGH:
            fed.update(node.output)
    return None
