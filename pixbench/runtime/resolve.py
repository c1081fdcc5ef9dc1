"""Deciding how to feed a model for a task: :func:`resolve_spec`.

The decision (layout, value range, channels, fixed size, low-res input, mask input,
output kind) comes from the overrides, else the model's ``pixbench.*`` metadata props,
else its input shapes and one probe run; the spec records where each choice came from.
"""

from __future__ import annotations

import numpy as np

from pixbench.errors import ModelError, shorten
from pixbench.runtime.model import Model, TensorInfo
from pixbench.runtime.runner import Runner
from pixbench.runtime.spec import BLOCK, CHANNELS, CONTEXT, LAYOUTS, RANGES, InputSpec
from pixbench.tasks import TASKS, Task, can_score, get_task

#: The ``pixbench.*`` props evaluate reads and the values each may take (docs/onnx-metadata.md).
PROP_CHOICES = {
    "layout": LAYOUTS,
    "range": RANGES,
    "channels": CHANNELS,
    "input": ("full", "lowres"),
    "mask_input": ("channel", "separate", "none"),
    "output": ("probability", "logit", "softmax2", "auto"),
}
#: ``pixbench.scale``: a whole upscale factor, as large as the largest recipe pixelation factor.
MAX_SCALE = 64
#: Largest fixed input evaluate feeds: sides up to 8192 pixels, batch up to 1024, and at most
#: 8192 x 8192 pixels per run in all (a float32 RGB batch of 768 MiB).
MAX_SIDE, MAX_BATCH, MAX_RUN_PIXELS = 8192, 1024, 8192 * 8192


def check_props(model: Model) -> None:
    """Check every ``pixbench.*`` prop evaluate reads, before any work.

    Raises:
        ModelError: One line naming the file, the prop, its value and the allowed values.
    """
    props = model.props
    for key, allowed in PROP_CHOICES.items():
        value = props.get(f"pixbench.{key}")
        if value is not None and value not in allowed:
            raise ModelError(
                f"{model.path.name}: metadata prop pixbench.{key}={shorten(value)} is not one of "
                f"{', '.join(allowed)} (docs/onnx-metadata.md)"
            )
    scale = props.get("pixbench.scale")
    if scale is not None and not (scale.isascii() and scale.isdigit() and 1 <= int(scale) <= MAX_SCALE):
        raise ModelError(
            f"{model.path.name}: metadata prop pixbench.scale={shorten(scale)} is not a whole "
            f"number from 1 to {MAX_SCALE} (the model's upscale factor)"
        )


def _pick(
    key: str,
    override: str | None,
    props: dict[str, str],
    allowed: tuple[str, ...],
    inferred: str,
    how: str,
    sources: dict[str, str],
) -> str:
    """Override, else the ``pixbench.<key>`` prop (checked by :func:`check_props`), else the inferred value."""
    if override is not None:
        value, sources[key] = override, "override"
        if value not in allowed:
            raise ModelError(f"--{key} {shorten(value)} is not one of {', '.join(allowed)}")
    elif f"pixbench.{key}" in props:
        value, sources[key] = props[f"pixbench.{key}"], "metadata"
    else:
        value, sources[key] = inferred, how
    return value


def _check_fixed_size(model: Model, info: TensorInfo, layout: str) -> None:
    """Refuse fixed input sizes too large to feed, before the probe allocates them."""
    n, (h, w) = info.shape[0], (info.shape[2:] if layout == "nchw" else info.shape[1:3])
    run = (n or 1) * (h or 1) * (w or 1)
    if (n or 1) > MAX_BATCH or (h or 1) > MAX_SIDE or (w or 1) > MAX_SIDE or run > MAX_RUN_PIXELS:
        raise ModelError(
            f"{model.path.name}: fixed input {info.name}{_fmt(info.shape)} is too large: evaluate feeds "
            f"batches of at most {MAX_BATCH}, sides of at most {MAX_SIDE} pixels and "
            f"{MAX_SIDE}x{MAX_SIDE} pixels per run; export it with dynamic or smaller axes"
        )


def _infer_layout(shape: tuple[int | None, ...]) -> tuple[str, str]:
    if shape[3] in (1, 3, 4) and shape[1] not in (1, 3, 4):
        return "nhwc", f"inferred from input shape {_fmt(shape)}"
    if shape[1] in (1, 3, 4):
        return "nchw", f"inferred from input shape {_fmt(shape)}"
    return "nchw", f"default (input shape {_fmt(shape)} does not say)"


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _check_declared_task(model: Model, task: str) -> str | None:
    """The model's ``pixbench.task``, after checking that a model of that task may be scored on ``task``."""
    declared = model.props.get("pixbench.task")
    # Some models are scored across tasks (BlockCNN deblocks whole JPEG images); an unknown
    # declared task is a mismatch like any other, not an unknown-task error.
    scorable = declared == task or (declared in TASKS and can_score(declared, task))
    if declared and not scorable:
        raise ModelError(
            f"{model.path.name}: model declares pixbench.task={shorten(declared)} but the dataset task is {task!r}"
        )
    return declared


def _image_inputs(model: Model, task: Task) -> tuple[TensorInfo, TensorInfo | None]:
    """The model's image input and, for a task that takes a mask, its separate mask input if it has one."""
    images = [i for i in model.inputs if len(i.shape) == 4]
    masked = ", ".join(t.name for t in TASKS.values() if t.takes_mask)
    if not images or len(model.inputs) != len(images) or len(images) > 2:
        got = ", ".join(f"{i.name}{_fmt(i.shape)}" for i in model.inputs) or "no inputs"
        raise ModelError(f"{model.path.name}: expected one 4-D image input ({masked}: or image + mask), got {got}")
    if len(images) == 1:
        return images[0], None
    if not task.takes_mask:
        raise ModelError(f"{model.path.name}: two image inputs only make sense for {masked}, not {task.name!r}")
    named = [i for i in images if "mask" in i.name.lower()]  # the mask is the one named like a mask, else the second
    mask = named[0] if named else images[1]
    return (images[1] if mask is images[0] else images[0]), mask


def _channels(c: int | None) -> tuple[str, str]:
    """The channels an image input of ``c`` channels implies, and how that was decided."""
    if c == 1:
        return "y", "inferred from 1 input channel"
    return "rgb", "default" if c is None else f"inferred from {c} input channels"


def _resolve_mask(model: Model, spec: InputSpec, image: TensorInfo, mask: TensorInfo | None, c: int | None) -> None:
    """How a model of a task that takes a mask gets it: a second input, or a 4th channel of the image."""
    if mask is not None:
        spec.mask_input, spec.mask_name = "separate", mask.name
    elif c == 4 or model.props.get("pixbench.mask_input") == "channel":
        spec.mask_input = "channel"
    else:
        raise ModelError(
            f"{model.path.name}: an {spec.task} model needs the mask as a 4th input channel or a "
            f"second input, but its only input is {image.name}{_fmt(image.shape)}"
        )
    spec.sources["mask_input"] = "inferred from inputs"


def resolve_spec(
    model: Model, task: str, *, layout: str | None = None, range_: str | None = None, channels: str | None = None
) -> InputSpec:
    """Decide how to feed ``model`` for ``task``; the overrides win over metadata and inference.

    Raises:
        ModelError: The model declares another task, or its inputs cannot fit the task.
    """
    check_props(model)
    props, sources = model.props, {}
    declared = _check_declared_task(model, task)
    info = get_task(task)
    image, mask = _image_inputs(model, info)
    lay = _pick("layout", layout, props, LAYOUTS, *_infer_layout(image.shape), sources)
    for tensor in model.inputs:  # every input is an image (or the mask)
        _check_fixed_size(model, tensor, lay)
    c = image.shape[1] if lay == "nchw" else image.shape[3]
    hw = image.shape[2:] if lay == "nchw" else image.shape[1:3]
    rng_default = ("255", "inferred from uint8 input") if image.dtype == np.uint8 else ("01", "default")
    spec = InputSpec(
        task=task,
        layout=lay,
        image_input=image.name,
        dtype=image.dtype,
        range=_pick("range", range_, props, RANGES, *rng_default, sources),
        channels=_pick("channels", channels, props, CHANNELS, *_channels(c), sources),
        tile=(hw[0], hw[1]) if hw[0] and hw[1] else None,
        batch=image.shape[0],
        sources=sources,
        model_task=declared or task,
    )
    if info.takes_mask:
        _resolve_mask(model, spec, image, mask, c)
    if spec.blockwise and spec.tile not in (None, (CONTEXT, CONTEXT)):
        raise ModelError(f"{model.path.name}: a BlockCNN model takes {CONTEXT}x{CONTEXT} inputs, got {spec.tile}")
    _probe(model, spec)
    return spec


def _probe(model: Model, spec: InputSpec) -> None:
    """Run the model once on a small input to learn its output and fail early if it does not fit."""
    side = CONTEXT if spec.blockwise else 64  # 64: deep enough for a few downsamplings
    h, w = spec.tile or (side, side)
    runner = Runner(model, spec)
    n = spec.batch or 1  # a model with a fixed batch axis gets exactly that many items
    x = np.zeros((n, h, w, 1 if spec.channels == "y" else 3), np.float32)
    m = np.zeros((n, h, w, 1), np.float32) if spec.mask_input != "none" else None
    out = runner.run_raw(x, m)
    if spec.task_info.restores:
        _probe_restorer(model, spec, runner, out, (h, w))
    elif spec.task_info.maps:
        _probe_map(model, spec, out, (h, w))
    else:
        _probe_detector(model, spec, out)


def _probe_detector(model: Model, spec: InputSpec, out: np.ndarray) -> None:
    """A detector outputs 1 or 2 scores per image; how to read them (``spec.output``) unless a prop says."""
    if out.size not in (1, 2) and not (out.ndim >= 1 and out.shape[-1] in (1, 2)):
        raise ModelError(f"{model.path.name}: a detector must output 1 or 2 scores per image, got shape {out.shape}")
    k = out.shape[-1] if out.ndim else 1
    spec.output = _pick(
        "output",
        None,
        model.props,
        ("probability", "logit", "softmax2", "auto"),
        "softmax2" if k == 2 else "auto",
        "inferred from output shape",
        spec.sources,
    )


def _probe_map(model: Model, spec: InputSpec, out: np.ndarray, hw: tuple[int, int]) -> None:
    """A localizer takes RGB of any size and outputs one map whose sides divide the input's; how to read it."""
    if spec.tile is not None or spec.channels != "rgb":
        raise ModelError(
            f"{model.path.name}: a {spec.task} model takes RGB images of any size (dynamic H and W), "
            f"got input size {spec.tile or 'dynamic'} with channels={spec.channels}"
        )
    c, mh, mw = 0, 0, 0
    if out.ndim == 4:
        c, mh, mw = (out.shape[1], *out.shape[2:]) if spec.layout == "nchw" else (out.shape[3], *out.shape[1:3])
    if c != 1 or not mh or not mw or hw[0] % mh or hw[1] % mw:
        raise ModelError(
            f"{model.path.name}: a {spec.task} model outputs one map (1, 1, H', W') whose sides divide the input's, "
            f"got output shape {out.shape} for a {hw[0]}x{hw[1]} input"
        )
    readings = ("probability", "logit", "auto")
    spec.output = _pick("output", None, model.props, readings, "auto", "read from the values", spec.sources)
    if spec.output not in readings:
        raise ModelError(
            f"{model.path.name}: pixbench.output={spec.output} does not fit a map; use {', '.join(readings)}"
        )


def _probe_restorer(model: Model, spec: InputSpec, runner: Runner, out: np.ndarray, hw: tuple[int, int]) -> None:
    """A restorer outputs an image with the input's channels: an 8x8 block, or the input upscaled by a whole factor.

    Only a task that takes the low-res grid may upscale; the factor and the input kind go into
    ``spec.scale`` and ``spec.input``.
    """
    h, w = hw
    oh, ow, oc = runner.output_hw_c(out)
    want_c = 1 if spec.channels == "y" else 3
    if oc != want_c:
        raise ModelError(
            f"{model.path.name}: output shape {out.shape} has {oc} channels, expected {want_c} "
            f"({spec.layout}, channels={spec.channels}); try --layout or --channels"
        )
    if spec.blockwise:
        if (oh, ow) != (BLOCK, BLOCK):
            raise ModelError(f"{model.path.name}: a BlockCNN model maps 24x24 to 8x8, got output {oh}x{ow}")
        return
    if oh % h or ow % w or oh // h != ow // w:
        raise ModelError(f"{model.path.name}: output {oh}x{ow} is not an integer upscale of the input {h}x{w}")
    scale = oh // h
    if "pixbench.scale" in model.props:
        spec.scale = int(model.props["pixbench.scale"])
        if spec.scale != scale:
            raise ModelError(f"{model.path.name}: pixbench.scale={spec.scale} but the model upscales by {scale}")
    spec.scale = scale
    inp = model.props.get("pixbench.input", "lowres" if scale > 1 else "full")
    if (inp == "lowres") != (scale > 1):
        raise ModelError(f"{model.path.name}: pixbench.input={inp!r} does not match an upscale factor of {scale}")
    if not spec.task_info.takes_lowres and scale != 1:
        raise ModelError(f"{model.path.name}: a {spec.task} model must keep the size, but it upscales by {scale}")
    spec.input, spec.sources["input"] = inp, "metadata" if "pixbench.input" in model.props else "probed"
