"""Running a model on images: sessions, I/O introspection, adapters, tiling, timing.

A model reaches the evaluator as a :class:`Model`: an onnxruntime session
(:class:`OnnxModel`) or a Python baseline (:mod:`pixbench.baselines`) with the
same small interface. :func:`resolve_spec` decides how to feed it (layout,
value range, channels, fixed size, low-res input, mask input, output kind) from
its ``pixbench.*`` metadata props, its input shapes and one probe run, and
records where each decision came from. :class:`Runner` then turns ``HxWx3
uint8`` images into model tensors and back (with the compiled one-pass kernels of
:mod:`pixbench.tensor_io`), with overlapping blended tiles for fixed-size
restorers, centre-of-block sliding for BlockCNN, and grids of crops for
fixed-size classifiers.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixbench import tensor_io
from pixbench.errors import ModelError

LAYOUTS = ("nchw", "nhwc")
RANGES = ("01", "11", "255")
CHANNELS = ("rgb", "y")
#: BlockCNN maps a 24x24 context to the 8x8 block at its centre.
BLOCK, CONTEXT = 8, 24
#: Largest batch of tiles, blocks or crops sent to a model with a dynamic batch axis, and the
#: most pixels per batch: bigger batches of big tiles run slower (activations leave the cache).
MAX_BATCH, MAX_BATCH_PIXELS = 256, 256 * 256
#: Most input values (tiles times channels times pixels) converted and blended in one group.
MAX_GROUP_VALUES = 1 << 24


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output: name, shape (``None`` = dynamic axis), numpy dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype


class Model:
    """What the evaluator needs from a model. Subclasses fill these fields and :meth:`run`."""

    path: Path
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    props: dict[str, str]
    provider: str = "python"
    threads: int | None = None

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 1e6

    @property
    def params(self) -> int | None:
        return None


_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(float16)": np.float16,
               "tensor(double)": np.float64, "tensor(int8)": np.int8}


def _tensor_info(arg: Any) -> TensorInfo:
    dtype = _ORT_DTYPES.get(arg.type)
    if dtype is None:
        raise ModelError(f"{arg.name!r} has type {arg.type}; pixbench feeds float, float16, double or uint8 tensors")
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)
    return TensorInfo(arg.name, shape, np.dtype(dtype))


class OnnxModel(Model):
    """An ONNX file in an onnxruntime session (CUDA when available, else CPU).

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads; ``None`` uses every logical core.
        providers: Execution providers in order of preference; ``None`` picks CUDA
            when onnxruntime offers it, then CPU.
    """

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        opts = ort.SessionOptions()
        self.threads = threads if threads else (os.cpu_count() or 1)
        opts.intra_op_num_threads = self.threads
        opts.log_severity_level = 3
        # Idle workers spin for 100 us, not onnxruntime's default of tens of milliseconds: the
        # harness converts tensors on the same cores between runs, and a spinning worker would
        # hold one of them. Gaps between operators and between tile batches are shorter than
        # that, so onnxruntime's own speed does not change (benchmarks/evaluate_overhead.py).
        opts.add_session_config_entry("session.intra_op.spin_duration_us", "100")
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises several unrelated types for unloadable files
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path}: not a loadable ONNX model ({reason})") from None
        self.provider = self.session.get_providers()[0]
        self.inputs = [_tensor_info(a) for a in self.session.get_inputs()]
        self.outputs = [_tensor_info(a) for a in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        self.props = {k: v for k, v in sorted(meta.items()) if k.startswith("pixbench.")}
        self._output_names = [o.name for o in self.outputs]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self.session.run(self._output_names, feeds)
        except Exception as exc:  # onnxruntime's own error types; the message says what did not fit
            shapes = ", ".join(f"{k}{list(v.shape)}" for k, v in feeds.items())
            reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path.name}: onnxruntime failed on {shapes}: {reason}") from None

    @property
    def params(self) -> int | None:
        """Sum of the sizes of all initializers (weights and constants)."""
        import onnx

        proto = onnx.load(str(self.path), load_external_data=False)
        return int(sum(int(np.prod(t.dims)) for t in proto.graph.initializer))


@dataclass
class InputSpec:
    """How to feed one model, and where each choice came from (``sources``)."""

    task: str
    layout: str
    range: str
    channels: str
    image_input: str
    dtype: np.dtype
    tile: tuple[int, int] | None = None
    batch: int | None = None
    input: str = "full"
    scale: int = 1
    mask_input: str = "none"
    mask_name: str | None = None
    output: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    #: The model's own task when it differs from the dataset's: a ``blockcnn`` model (24x24 -> 8x8)
    #: scored on a ``jpeg`` dataset is slid over the whole images on the 8x8 grid.
    model_task: str = ""

    def __post_init__(self) -> None:
        self.model_task = self.model_task or self.task

    @property
    def blockwise(self) -> bool:
        """True for BlockCNN-style models: 24x24 context in, 8x8 centre block out."""
        return self.model_task == "blockcnn"

    def assumed(self) -> dict[str, Any]:
        """The decisions as plain JSON values (for the result file and the terminal)."""
        out: dict[str, Any] = {"layout": self.layout, "range": self.range, "channels": self.channels,
                               "size": list(self.tile) if self.tile else "dynamic"}
        if self.task == "depixelate":
            out.update(input=self.input, scale=self.scale)
        if self.task == "inpaint":
            out["mask_input"] = self.mask_input
        if self.task == "detect":
            out["output"] = self.output
        if self.model_task != self.task:
            out["model_task"] = self.model_task
        return out


def _pick(key: str, override: str | None, props: dict[str, str], allowed: tuple[str, ...],
          inferred: str, how: str, sources: dict[str, str]) -> str:
    """Override, else the ``pixbench.<key>`` prop, else the inferred value; record which."""
    if override is not None:
        value, sources[key] = override, "override"
    elif f"pixbench.{key}" in props:
        value, sources[key] = props[f"pixbench.{key}"], "metadata"
    else:
        value, sources[key] = inferred, how
    if value not in allowed:
        raise ModelError(f"{key} {value!r} ({sources[key]}) is not one of {', '.join(allowed)}")
    return value


def _infer_layout(shape: tuple[int | None, ...]) -> tuple[str, str]:
    if shape[3] in (1, 3, 4) and shape[1] not in (1, 3, 4):
        return "nhwc", f"inferred from input shape {_fmt(shape)}"
    if shape[1] in (1, 3, 4):
        return "nchw", f"inferred from input shape {_fmt(shape)}"
    return "nchw", f"default (input shape {_fmt(shape)} does not say)"


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


#: (model task, dataset task) pairs that are scored across tasks: BlockCNN deblocks whole JPEG images.
_CROSS_TASKS = {("blockcnn", "jpeg")}


def resolve_spec(model: Model, task: str, *, layout: str | None = None, range_: str | None = None,
                 channels: str | None = None) -> InputSpec:
    """Decide how to feed ``model`` for ``task``; the overrides win over metadata and inference.

    Raises:
        ModelError: The model declares another task, or its inputs cannot fit the task.
    """
    props, sources = model.props, {}
    declared = props.get("pixbench.task")
    if declared and declared != task and (declared, task) not in _CROSS_TASKS:
        raise ModelError(f"{model.path.name}: model declares pixbench.task={declared!r} but the dataset task is {task!r}")
    images = [i for i in model.inputs if len(i.shape) == 4]
    if not images or len(model.inputs) != len(images) or len(images) > 2:
        got = ", ".join(f"{i.name}{_fmt(i.shape)}" for i in model.inputs)
        raise ModelError(f"{model.path.name}: expected one 4-D image input (inpaint: or image + mask), got {got}")
    if len(images) == 2 and task != "inpaint":
        raise ModelError(f"{model.path.name}: two image inputs only make sense for inpaint, not {task!r}")
    image = images[0]
    if len(images) == 2:  # the mask input is the one named like a mask, else the second
        named = [i for i in images if "mask" in i.name.lower()]
        mask = named[0] if named else images[1]
        image = images[1] if mask is images[0] else images[0]
    lay = _pick("layout", layout, props, LAYOUTS, *_infer_layout(image.shape), sources)
    c = image.shape[1] if lay == "nchw" else image.shape[3]
    hw = image.shape[2:] if lay == "nchw" else image.shape[1:3]
    rng_default = ("255", "inferred from uint8 input") if image.dtype == np.uint8 else ("01", "default")
    spec = InputSpec(
        task=task, layout=lay, image_input=image.name, dtype=image.dtype,
        range=_pick("range", range_, props, RANGES, *rng_default, sources),
        channels=_pick("channels", channels, props, CHANNELS, *(
            ("y", "inferred from 1 input channel") if c == 1 else ("rgb", "default" if c is None else
                                                                   f"inferred from {c} input channels")), sources),
        tile=(hw[0], hw[1]) if hw[0] and hw[1] else None, batch=image.shape[0], sources=sources,
        model_task=declared or task)
    if task == "inpaint":
        if len(images) == 2:
            spec.mask_input, spec.mask_name = "separate", mask.name
        elif c == 4 or props.get("pixbench.mask_input") == "channel":
            spec.mask_input = "channel"
        else:
            raise ModelError(f"{model.path.name}: an inpaint model needs the mask as a 4th input channel or a "
                             f"second input, but its only input is {image.name}{_fmt(image.shape)}")
        sources["mask_input"] = "inferred from inputs"
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
    if spec.task == "detect":
        if out.size not in (1, 2) and not (out.ndim >= 1 and out.shape[-1] in (1, 2)):
            raise ModelError(f"{model.path.name}: a detector must output 1 or 2 scores per image, got shape {out.shape}")
        k = out.shape[-1] if out.ndim else 1
        spec.output = _pick("output", None, model.props, ("probability", "logit", "softmax2", "auto"),
                            "softmax2" if k == 2 else "auto", "inferred from output shape", spec.sources)
        return
    oh, ow, oc = runner.output_hw_c(out)
    want_c = 1 if spec.channels == "y" else 3
    if oc != want_c:
        raise ModelError(f"{model.path.name}: output shape {out.shape} has {oc} channels, expected {want_c} "
                         f"({spec.layout}, channels={spec.channels}); try --layout or --channels")
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
    if spec.task != "depixelate" and scale != 1:
        raise ModelError(f"{model.path.name}: a {spec.task} model must keep the size, but it upscales by {scale}")
    spec.input, spec.sources["input"] = inp, "metadata" if "pixbench.input" in model.props else "probed"


# ---------------------------------------------------------------------------------------------
# Colour and value adapters


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 (JPEG/JFIF, as Pillow's ``YCbCr``) of ``...x3`` values in [0, 255], as float32."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
    out = rgb.astype(np.float32) @ m.T
    out[..., 1:] += 128.0
    return out


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr` (float32, not clipped)."""
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=-1)


def bicubic_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``HxWxC`` float image to ``size`` (h, w) with Pillow's bicubic filter, per channel."""
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., k], np.float32), mode="F")
                        .resize((size[1], size[0]), Image.BICUBIC)) for k in range(image.shape[-1])]
    return np.stack(chans, axis=-1)


_TO_MODEL = {"01": (1 / 255.0, 0.0), "11": (2 / 255.0, -1.0), "255": (1.0, 0.0)}


class Runner:
    """Feeds images to a model according to its :class:`InputSpec`."""

    def __init__(self, model: Model, spec: InputSpec, *, overlap: int = 32) -> None:
        self.model, self.spec, self.overlap = model, spec, overlap
        self._scratch: dict[tuple[str, tuple[int, ...], str], np.ndarray] = {}

    def _buffer(self, tag: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A scratch array kept between calls (contents undefined), one per ``(tag, shape, dtype)``.

        Fresh arrays of a full frame cost page faults on first touch (about as much as
        the conversion itself at 1080p); samples of one dataset mostly share a size.
        """
        key = (tag, tuple(shape), np.dtype(dtype).str)
        buf = self._scratch.get(key)
        if buf is None:
            if len(self._scratch) >= 8:  # datasets of many sizes: keep only recent ones
                self._scratch.clear()
            buf = self._scratch[key] = np.empty(shape, dtype)
        return buf

    # -- one batch ----------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        """Threads for the harness's own conversions: as many as the model's session uses."""
        return self.model.threads or 1

    def run_raw(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Run one batch and return output 0 as onnxruntime gives it.

        Args:
            x: ``NHWC`` values in [0, 255], uint8 or float.
            mask: ``NHW1``, 1 = hole (inpaint only).
        """
        spec = self.spec
        mul, add = _TO_MODEL[spec.range]
        n, h, w, c = x.shape
        direct = spec.dtype == np.uint8 and x.dtype == np.uint8 and spec.range == "255"  # no arithmetic at all
        t = self._input_buffer(n, c, h, w, mask, np.uint8 if direct else np.float32)
        nchw = spec.layout == "nchw"
        if x.dtype == np.uint8 and (nchw or not direct):  # (a direct NCHW copy still transposes)
            tensor_io.pack(x, t, nchw=nchw, mul=mul, add=add, threads=self.threads)
        else:
            dst = t[:, :c] if nchw else t[..., :c]
            src = x.transpose(0, 3, 1, 2) if nchw else x
            if direct or mul == 1.0:
                np.copyto(dst, src, casting="unsafe")
            else:
                np.multiply(src, np.float32(mul), out=dst, casting="unsafe")
            if not direct and add != 0.0:
                dst += np.float32(add)
        return self._run_buffer(t, c, mask)

    def _input_buffer(self, n: int, c: int, h: int, w: int, mask: np.ndarray | None, dtype: Any) -> np.ndarray:
        """A reused input buffer in the model's layout, with room for a mask channel where the model takes one."""
        cm = c + 1 if mask is not None and self.spec.mask_input == "channel" else c
        return self._buffer("in", (n, cm, h, w) if self.spec.layout == "nchw" else (n, h, w, cm), dtype)

    def _run_buffer(self, t: np.ndarray, c: int, mask: np.ndarray | None) -> np.ndarray:
        """Run the model on ``t`` (image channels ``:c`` filled in), adding the mask where the model takes it."""
        spec = self.spec
        hole = 255.0 if spec.dtype == np.uint8 else 1.0
        if mask is not None and spec.mask_input == "channel":
            view = t.transpose(0, 2, 3, 1) if spec.layout == "nchw" else t
            np.copyto(view[..., c:], mask * hole, casting="unsafe")
        if spec.dtype == np.uint8 and t.dtype != np.uint8:
            np.clip(np.rint(t, out=t), 0, 255, out=t)
        feeds = {spec.image_input: t.astype(spec.dtype, copy=False)}
        if mask is not None and spec.mask_input == "separate":
            m = mask.transpose(0, 3, 1, 2) if spec.layout == "nchw" else mask
            feeds[spec.mask_name] = np.ascontiguousarray(m * hole, dtype=spec.dtype)
        out = np.asarray(self.model.run(feeds)[0])
        # An output may share the fed buffer (an Identity graph), which the next call overwrites.
        return out.copy() if np.may_share_memory(out, t) else out

    def output_hw_c(self, out: np.ndarray) -> tuple[int, int, int]:
        """Spatial size and channel count of a 4-D image output in the model's layout."""
        if out.ndim != 4:
            raise ModelError(f"{self.model.path.name}: expected a 4-D image output, got shape {out.shape}")
        return (out.shape[2], out.shape[3], out.shape[1]) if self.spec.layout == "nchw" else out.shape[1:4]

    def predict(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Run a batch and return ``NHWC`` float32 pixels in [0, 255], not clipped (may be a strided view).

        Args:
            x: ``NHWC`` values in [0, 255].
            mask: ``NHW1``, 1 = hole.

        Raises:
            ModelError: The output has the wrong shape (counted per sample by callers). NaN and
                Inf are caught later, when the image is rounded to uint8.
        """
        return self._to_pixels(self._checked(self.run_raw(x, mask), *x.shape[:3]))

    def _to_pixels(self, out: np.ndarray) -> np.ndarray:
        """A checked float32 output, in place, to [0, 255] pixels (not clipped), as an ``NHWC`` view."""
        mul, add = _TO_MODEL[self.spec.range]
        if (mul, add) != (1.0, 0.0):
            if add:
                out -= np.float32(add)
            out *= np.float32(1.0 / mul)
        return out.transpose(0, 2, 3, 1) if self.spec.layout == "nchw" else out

    def _checked(self, out: np.ndarray, n: int, xh: int, xw: int, *, cast: bool = True) -> np.ndarray:
        """``out`` after checking it fits ``n`` inputs of ``xh x xw``: as writeable float32, or
        as it is with ``cast=False`` (a ``uint8`` output then skips a float round trip).

        Raises:
            ModelError: The output has the wrong shape (counted per sample by callers).
        """
        if cast and (out.dtype != np.float32 or not out.flags.writeable):
            out = out.astype(np.float32)
        h, w, _ = self.output_hw_c(out)
        s = self.spec.scale
        want = (BLOCK, BLOCK) if self.spec.blockwise else (xh * s, xw * s)
        if out.shape[0] != n or (h, w) != want:
            raise ModelError(f"output shape {out.shape} does not fit input {(xh, xw)} (scale {s})")
        return out

    def predict_batched(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict` over any number of items, in chunks the model's batch axis accepts."""
        return self._chunked(self.predict, x, mask)

    def _chunked(self, fn: Any, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return np.concatenate([np.asarray(fn(xb, mb))[:n] for _, n, xb, mb in self._chunks(x, mask)], axis=0)

    def _chunks(self, x: np.ndarray, mask: np.ndarray | None,
                pixels: int | None = None) -> Iterator[tuple[int, int, np.ndarray, Any]]:
        """``(start, n, batch, mask batch)`` in sizes the model's batch axis accepts; a fixed batch
        axis gets its last chunk padded by repetition (only the first ``n`` results count).
        ``pixels`` is the item's height times width when ``x`` is not ``NHWC``."""
        pixels = pixels or x.shape[1] * x.shape[2]
        step = self.spec.batch or max(1, min(MAX_BATCH, MAX_BATCH_PIXELS // pixels))
        for i in range(0, len(x), step):
            xb, mb = x[i:i + step], None if mask is None else mask[i:i + step]
            n = len(xb)
            if self.spec.batch and n < step:
                xb = np.concatenate([xb, np.repeat(xb[-1:], step - n, 0)])
                mb = None if mb is None else np.concatenate([mb, np.repeat(mb[-1:], step - n, 0)])
            yield i, n, xb, mb

    # -- whole images -------------------------------------------------------------------------
    def restore(self, image: np.ndarray, *, mask: np.ndarray | None = None,
                lowres: np.ndarray | None = None) -> np.ndarray:
        """Restore one ``HxWx3 uint8`` image (``lowres`` is fed instead where the model wants it).

        Fixed-size models see overlapping tiles blended with linear ramps; BlockCNN
        models slide over the 8x8 grid; dynamic models see the whole image. Y-only
        models get the luma and the result takes the input's chroma.
        """
        src = lowres if self.spec.input == "lowres" else image
        if src is None:
            raise ModelError("the model wants the low-resolution grid but the sample has none")
        m = None if mask is None else mask[..., None].astype(np.float32)
        if self.spec.blockwise:
            return self._with_luma(src, lambda x: self._slide_blocks(x, m))
        apply = self._tiled if self.spec.tile else self._whole
        if self.spec.channels == "y":
            return self._with_luma(src, lambda x: apply(x, m, as_uint8=False))
        return apply(src, m, as_uint8=True)

    def restore_triplets(self, contexts: np.ndarray) -> np.ndarray:
        """BlockCNN: ``(N, 24, 24, 3)`` uint8 contexts -> ``(N, 8, 8, 3)`` uint8 centre blocks."""
        x = np.asarray(contexts)
        if self.spec.channels == "y":
            ycc = rgb_to_ycbcr(x)
            luma = self.predict_batched(ycc[..., :1])
            chroma = ycc[:, BLOCK:2 * BLOCK, BLOCK:2 * BLOCK, 1:]
            return self._image_u8(ycbcr_to_rgb(np.concatenate([luma, chroma], -1)))
        return self._image_u8(self.predict_batched(x))

    def detect_raw(self, image: np.ndarray) -> np.ndarray:
        """Raw detector outputs for one image, one row per crop (``(n_crops, k)``).

        Dynamic models see the whole image (one row). Fixed-size models see a grid
        of non-overlapping crops of their size covering the image (the last row and
        column aligned to the far edge; images smaller than the model are edge-padded).
        """
        x = rgb_to_ycbcr(image)[..., :1] if self.spec.channels == "y" else image
        if self.spec.tile is None:
            return self.run_raw(x[None]).reshape(1, -1)
        x = _pad_to(x, self.spec.tile)
        crops = _crops(x, self.spec.tile, 0)[0]
        return self._chunked(lambda xb, _: self.run_raw(xb).reshape(len(xb), -1), crops, None)

    def _with_luma(self, x: np.ndarray, apply: Any) -> np.ndarray:
        """Apply to RGB, or to the luma of a Y-only model and put the input's chroma back."""
        if self.spec.channels != "y":
            return self._image_u8(apply(x))
        ycc = rgb_to_ycbcr(x)
        luma = apply(ycc[..., :1])
        chroma = ycc[..., 1:] if luma.shape[:2] == ycc.shape[:2] else bicubic_resize(ycc[..., 1:], luma.shape[:2])
        return self._image_u8(ycbcr_to_rgb(np.concatenate([luma, chroma], axis=-1)))

    def _image_u8(self, x: np.ndarray) -> np.ndarray:
        """Float pixels (``HxWxC``, or ``NxHxWxC``) to a new ``uint8`` array: clipped, rounded half to even.

        Raises:
            ModelError: ``x`` holds NaN or Inf (the model's output did; they survive blending).
        """
        if x.ndim == 4:
            n, h, w, c = x.shape
            return self._image_u8(x.reshape(n * h, w, c)).reshape(n, h, w, c)
        return tensor_io.to_image(np.asarray(x, np.float32), planar=False, sub=0.0, threads=self.threads)

    def _whole(self, x: np.ndarray, mask: np.ndarray | None, *, as_uint8: bool) -> np.ndarray:
        """The model on the whole ``HxWxC`` image: a new ``uint8`` image, or ``float32`` pixels (a view)."""
        out = self.run_raw(x[None], None if mask is None else mask[None])
        out = self._checked(out, 1, *x.shape[:2], cast=not as_uint8 or out.dtype not in (np.float32, np.uint8))
        if not as_uint8:
            return self._to_pixels(out)[0]
        mul, add = _TO_MODEL[self.spec.range]
        return tensor_io.to_image(out[0], planar=self.spec.layout == "nchw", sub=add, mul=1.0 / mul,
                                  threads=self.threads)

    def _tiled(self, x: np.ndarray, mask: np.ndarray | None, *, as_uint8: bool) -> np.ndarray:
        """Overlapping tiles, blended with linear ramps: a new ``uint8`` image, or ``float32`` pixels (a view).

        Tiles are cut from the image straight into the model's input buffer, and their
        outputs are weighted and summed in the model's own layout, so no tile is transposed.
        """
        (th, tw), s = self.spec.tile, self.spec.scale
        nchw = self.spec.layout == "nchw"
        h, w, c = x.shape
        xp = _pad_to(x, (th, tw))
        ov = (min(self.overlap, th // 4), min(self.overlap, tw // 4))
        origins = np.array([(y, x0) for y in _positions(xp.shape[0], th, ov[0])
                            for x0 in _positions(xp.shape[1], tw, ov[1])], np.int64)
        mtiles = None if mask is None else _crops(_pad_to(mask, (th, tw)), (th, tw), ov)[0]
        wy, wx = _ramp(th * s, ov[0] * s), _ramp(tw * s, ov[1] * s)
        hp, wp = xp.shape[0] * s, xp.shape[1] * s
        # The summed weights are separable: the sum over tile rows times the sum over tile columns.
        wsum_y, wsum_x = np.zeros(hp, np.float32), np.zeros(wp, np.float32)
        for y in np.unique(origins[:, 0]):
            wsum_y[y * s:(y + th) * s] += wy
        for x0 in np.unique(origins[:, 1]):
            wsum_x[x0 * s:(x0 + tw) * s] += wx
        mul, add = _TO_MODEL[self.spec.range]
        # Each tile's weights are divided by the summed weights where it lands, and by ``mul``, so
        # the sum is the blend in pixels plus ``add / mul``, which is taken off once at the end.
        ry = wy / wsum_y[origins[:, :1] * s + np.arange(th * s)]
        rx = wx / wsum_x[origins[:, 1:] * s + np.arange(tw * s)] * np.float32(1.0 / mul)
        fresh = tensor_io.first_cover(origins, (th, tw)) * s
        # Reused between images (it never leaves this method: callers get a new array or a copy).
        acc = self._buffer("acc", (c, hp, wp) if nchw else (hp, wp, c), np.float32)
        # Tiles are converted and blended a group of batches at a time, so each conversion is one
        # call over many tiles (on every thread) rather than a short call per batch.
        chunks = list(self._chunks(origins, mtiles, th * tw))
        most = max(1, MAX_GROUP_VALUES // ((c + 1) * th * tw))  # tiles per group
        while chunks:
            group = [chunks.pop(0)]
            count = len(group[0][2])
            while chunks and count + len(chunks[0][2]) <= most:
                count += len(chunks[0][2])
                group.append(chunks.pop(0))
            where_all = np.concatenate([where for _, _, where, _ in group])
            t_all = self._input_buffer(len(where_all), c, th, tw, group[0][3], np.float32)
            tensor_io.pack_tiles(xp, where_all, t_all, nchw=nchw, mul=mul, add=add, threads=self.threads)
            items, k = [], 0
            for start, n, where, mb in group:
                out = self._checked(self._run_buffer(t_all[k:k + len(where)], c, mb), len(where), th, tw)
                part = slice(start, start + n)
                items.append((out[:n], where[:n] * s, fresh[part], ry[part], rx[part]))
                k += len(where)
            tensor_io.accumulate(items, acc, nchw=nchw, threads=self.threads)
        acc = acc[:, :h * s, :w * s] if nchw else acc[:h * s, :w * s]
        if as_uint8:
            return tensor_io.to_image(acc, planar=nchw, sub=add / mul, threads=self.threads)
        if add:  # float pixels, for a Y-only model's luma
            acc -= np.float32(add / mul)
        return acc.transpose(1, 2, 0) if nchw else acc

    def _slide_blocks(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        h, w, c = x.shape
        ph, pw = -h % BLOCK, -w % BLOCK
        xp = np.pad(x, ((BLOCK, BLOCK + ph), (BLOCK, BLOCK + pw), (0, 0)), mode="edge")
        nby, nbx = (h + ph) // BLOCK, (w + pw) // BLOCK
        out = np.empty((nby, nbx, BLOCK, BLOCK, c), np.float32)
        rows = max(1, 4096 // nbx)  # bands of block rows keep the 24x24 copies small
        for r in range(0, nby, rows):
            band = xp[r * BLOCK:(min(nby, r + rows) + 2) * BLOCK]
            win = np.lib.stride_tricks.sliding_window_view(band, (CONTEXT, CONTEXT), axis=(0, 1))[::BLOCK, ::BLOCK]
            ctx = np.ascontiguousarray(win.transpose(0, 1, 3, 4, 2)).reshape(-1, CONTEXT, CONTEXT, c)
            out[r:r + rows] = self.predict_batched(ctx).reshape(-1, nbx, BLOCK, BLOCK, c)
        return out.transpose(0, 2, 1, 3, 4).reshape(nby * BLOCK, nbx * BLOCK, c)[:h, :w]


def _pad_to(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    ph, pw = max(0, size[0] - x.shape[0]), max(0, size[1] - x.shape[1])
    return np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else x


def _positions(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins covering ``length`` with at least ``overlap`` shared pixels; the last ends at the edge."""
    if length <= tile:
        return [0]
    pos = list(range(0, length - tile, tile - overlap))
    return pos + [length - tile]


def _crops(x: np.ndarray, tile: tuple[int, int], overlap: int | tuple[int, int]):
    """Stacked tiles of ``x`` (``HxWxC``) and their ``(y, x)`` origins."""
    ov = overlap if isinstance(overlap, tuple) else (overlap, overlap)
    hh, ww = x.shape[:2]
    where = [(y, x0) for y in _positions(hh, tile[0], ov[0]) for x0 in _positions(ww, tile[1], ov[1])]
    return np.stack([x[y:y + tile[0], x0:x0 + tile[1]] for y, x0 in where]), where


def _ramp(n: int, overlap: int) -> np.ndarray:
    """Blend weights along one tile axis: 1 in the middle, falling linearly over ``overlap`` pixels at each end."""
    if overlap <= 0:
        return np.ones(n, np.float32)
    i = np.arange(n, dtype=np.float32) + 0.5
    return np.minimum(1.0, np.minimum(i, n - i) / overlap).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Timing


def time_call(fn: Any, *, warmup: int = 2, runs: int = 10) -> dict[str, float]:
    """Median and p90 latency (ms) and FPS of ``fn()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    median = float(np.median(times))
    return {"latency_ms_median": median * 1e3, "latency_ms_p90": float(np.percentile(times, 90)) * 1e3,
            "fps": 1.0 / median if median > 0 else float("inf"), "runs": runs}


def frame_call(runner: Runner, height: int, width: int, *, seed: int = 0) -> Any:
    """A zero-argument call that processes one ``height x width`` frame the way evaluation does.

    The frame is random noise (content does not change the work a network does);
    a low-res model gets the grid that upscales to this size, an inpainting model a
    centred 75x75 hole (at most half the frame on each side).
    """
    rng = np.random.default_rng(seed)
    spec = runner.spec
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if spec.task == "detect":
        return lambda: runner.detect_raw(image)
    lowres = image[::spec.scale, ::spec.scale].copy() if spec.input == "lowres" else None
    mask = None
    if spec.task == "inpaint":
        mask = np.zeros((height, width), bool)
        hh, hw = min(75, height // 2), min(75, width // 2)
        y0, x0 = (height - hh) // 2, (width - hw) // 2
        mask[y0:y0 + hh, x0:x0 + hw] = True
    return lambda: runner.restore(image, mask=mask, lowres=lowres)


def load_model(path: str | os.PathLike, *, threads: int | None = None) -> Model:
    """Open an ONNX file, or a pixbench Python model file (JSON, see :mod:`pixbench.baselines`).

    Raises:
        ModelError: The file is missing, or is neither a loadable ONNX model nor a Python model file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    if head.startswith(b"{"):
        from pixbench.baselines import PythonModel

        return PythonModel(path)
    return OnnxModel(path, threads=threads)
