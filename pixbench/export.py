"""ONNX export of reference models: one self-contained file, metadata props, and a parity check.

:func:`export_model` traces a model with one of torch's two ONNX exporters, with a
dynamic batch and (where the architecture allows) dynamic height and width, stores
all weights inside the ``.onnx`` file, writes the ``pixbench.*`` metadata props of
``docs/onnx-metadata.md`` (through :class:`pixbench.props.ModelProps`), and then runs
the file in onnxruntime on an input of a *different* size than the trace and compares
with torch. Only when the outputs agree within ``atol`` is the file renamed into place,
so a failed export leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import torch
from torch import nn

from pixbench import __version__
from pixbench.degradations.blocks import CONTEXT
from pixbench.errors import ModelError
from pixbench.images import atomic_output
from pixbench.models import ModelSpec
from pixbench.props import EXPORT_ORDER, ModelProps
from pixbench.tasks import get_task
from pixbench.train.checkpoint import model_from_checkpoint, read_checkpoint

#: Largest allowed |onnxruntime - torch| on [0, 1] outputs. float32 kernels differ in
#: summation order between the two runtimes; 1e-4 is 1/40 of one 8-bit grey level.
PARITY_ATOL = 1e-4
#: ONNX opset per exporter (the dynamo exporter implements 18 and up).
OPSET = {"torchscript": 17, "dynamo": 18}
#: ``torchscript`` (the default) is torch's tracing exporter: it exports these models in well
#: under a second. ``dynamo`` is the ``torch.export``-based one: same graphs, 10-100x slower.
Exporter = Literal["torchscript", "dynamo"]
EXPORTERS: tuple[str, ...] = ("torchscript", "dynamo")
#: Trace size and the (different) size the parity check runs at, per input kind: (C, H, W).
_TRACE = {"full": (3, 64, 64), "masked": (4, 64, 64), "lowres": (3, 16, 16), "triplet": (3, CONTEXT, CONTEXT)}
#: Output kinds that are logits, to which export appends the sigmoid.
_LOGITS = ("logit", "mask")
_CHECK = {"full": (3, 70, 90), "masked": (4, 70, 90), "lowres": (3, 13, 17), "triplet": (3, CONTEXT, CONTEXT)}


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_model` wrote and how well onnxruntime matched torch."""

    path: Path
    size_mb: float
    max_abs_diff: float
    atol: float
    dynamic_hw: bool
    props: dict[str, str]


class _Probability(nn.Module):
    """Appends the sigmoid to a detector or segmenter, so the file declares ``pixbench.output=probability``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(x))


def model_props(
    spec: ModelSpec,
    model: nn.Module,
    model_args: dict[str, Any],
    *,
    task: str | None,
    dataset_fingerprint: str | None,
    recipe: str | None,
    training: dict[str, Any] | None = None,
) -> ModelProps:
    """The ``pixbench.*`` props of ``docs/onnx-metadata.md`` for one reference model.

    ``task`` defaults to the model's first task; ``pixbench.input`` is written for a task whose
    samples carry the low-res grid, ``pixbench.scale`` for a model that takes that grid.
    """
    task = task or spec.tasks[0]
    lowres = spec.input_kind == "lowres"
    return ModelProps(
        task=task,
        model=spec.name,
        model_args=model_args,
        input=("lowres" if lowres else "full") if get_task(task).takes_lowres else None,
        scale=int(model.scale) if lowres else None,
        mask_input="channel" if spec.input_kind == "masked" else None,
        output="probability" if spec.output in _LOGITS else None,
        dataset_fingerprint=dataset_fingerprint or None,
        recipe=recipe or None,
        training=training or None,
    )


def metadata_props(
    spec: ModelSpec,
    model: nn.Module,
    model_args: dict[str, Any],
    *,
    task: str | None,
    dataset_fingerprint: str | None,
    recipe: str | None,
    training: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The props of :func:`model_props` as the strings :func:`export_model` writes, in its key order.

    ``training`` (a checkpoint's provenance record) becomes ``pixbench.training``, as canonical JSON.
    """
    props = model_props(
        spec, model, model_args, task=task, dataset_fingerprint=dataset_fingerprint, recipe=recipe, training=training
    )
    return props.metadata(EXPORT_ORDER)


def _to_onnx(module: nn.Module, example: torch.Tensor, dynamic_hw: bool, exporter: Exporter) -> onnx.ModelProto:
    """Trace ``module`` into an in-memory ONNX model with a dynamic batch (and H, W if allowed)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporters' deprecation and tracer notes are not for users
        if exporter == "torchscript":
            axes = {0: "batch", 2: "height", 3: "width"} if dynamic_hw else {0: "batch"}
            buffer = io.BytesIO()
            torch.onnx.export(
                module,
                (example,),
                buffer,
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": axes, "output": {0: "batch"}},
                opset_version=OPSET[exporter],
            )
            return onnx.load_from_string(buffer.getvalue())
        from torch.export import Dim

        dims = {0: Dim("batch", min=1, max=4096)}
        if dynamic_hw:
            dims.update({2: Dim.DYNAMIC, 3: Dim.DYNAMIC})
        program = torch.onnx.export(
            module,
            (example,),
            None,
            dynamo=True,
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes={"x": dims},
            opset_version=OPSET[exporter],
            external_data=False,
            verbose=False,
        )
        return program.model_proto


def check_parity(path: Path, module: nn.Module, example: torch.Tensor, *, atol: float) -> float:
    """Run ``path`` in onnxruntime and torch on ``example``; return the largest absolute difference.

    Raises:
        ModelError: The outputs differ by more than ``atol`` or have different shapes.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: example.numpy()})[0]
    with torch.no_grad():
        want = module(example).numpy()
    if got.shape != want.shape:
        raise ModelError(f"export parity: onnxruntime output shape {got.shape} != torch {want.shape}")
    diff = float(np.abs(got.astype(np.float64) - want).max())
    if not diff <= atol:
        raise ModelError(f"export parity: onnxruntime differs from torch by {diff:.3g} > tolerance {atol:g}")
    return diff


def export_model(
    model: nn.Module,
    spec: ModelSpec,
    output: str | Path,
    *,
    model_args: dict[str, Any],
    task: str | None = None,
    dataset_fingerprint: str | None = None,
    recipe: str | None = None,
    atol: float = PARITY_ATOL,
    seed: int = 0,
    exporter: Exporter = "torchscript",
    training: dict[str, Any] | None = None,
) -> ExportReport:
    """Export ``model`` to a single ``.onnx`` file with metadata, after an onnxruntime parity check.

    Args:
        model: The torch model (put into eval mode here).
        spec: Its registry entry.
        output: Destination ``.onnx`` path; written only if the parity check passes.
        model_args: Full constructor arguments, recorded in ``pixbench.model_args``.
        task: Dataset task it was trained on (default: the model's first task).
        dataset_fingerprint: ``pixbench.dataset_fingerprint``, when trained on a dataset.
        recipe: ``pixbench.recipe`` as ``name@version``.
        atol: Largest allowed absolute difference between onnxruntime and torch.
        seed: Seed of the random parity-check input.
        exporter: ``torchscript`` or ``dynamo`` (see :data:`Exporter`).
        training: The checkpoint's ``training`` record, written as ``pixbench.training``.

    Raises:
        ModelError: Export failed, the file would exceed the model's size budget, or parity failed.
    """
    output = Path(output)
    if exporter not in EXPORTERS:
        raise ModelError(f"--exporter {exporter!r}: expected one of {', '.join(EXPORTERS)}")
    if output.suffix != ".onnx":
        raise ModelError(f"--output {output}: expected a path ending in .onnx")
    model = model.cpu().eval()
    module = _Probability(model) if spec.output in _LOGITS else model
    module.eval()
    gen = torch.Generator().manual_seed(seed)
    example = torch.rand(1, *_TRACE[spec.input_kind], generator=gen)
    check = torch.rand(2, *_CHECK[spec.input_kind], generator=gen)
    dynamic_hw = spec.fixed_hw is None
    described = model_props(
        spec, model, model_args, task=task, dataset_fingerprint=dataset_fingerprint, recipe=recipe, training=training
    )  # checked before the (slow) trace
    proto = _trace(module, spec, example, dynamic_hw, exporter)
    props = described.write(proto, EXPORT_ORDER)
    proto.producer_name, proto.producer_version = "pixbench", __version__
    size_mb, diff = _save_checked(proto, output, spec, module, check, atol=atol)
    return ExportReport(path=output, size_mb=size_mb, max_abs_diff=diff, atol=atol, dynamic_hw=dynamic_hw, props=props)


def _trace(
    module: nn.Module, spec: ModelSpec, example: torch.Tensor, dynamic_hw: bool, exporter: Exporter
) -> onnx.ModelProto:
    """:func:`_to_onnx`, with any exporter failure as one :class:`ModelError` line."""
    try:
        return _to_onnx(module, example, dynamic_hw, exporter)
    except Exception as exc:  # the exporter raises a wide variety of errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX export of {spec.name!r} failed: {first}") from None


def _save_checked(
    proto: onnx.ModelProto, output: Path, spec: ModelSpec, module: nn.Module, check: torch.Tensor, *, atol: float
) -> tuple[float, float]:
    """Write ``proto`` to ``output`` only if it is valid, within the size budget and matches torch on ``check``.

    Returns:
        The file size in MB and the largest absolute difference from torch.
    """
    # a failed size or parity check raises inside the block, so nothing is left at ``output``
    with atomic_output(output) as tmp:
        onnx.save_model(proto, tmp, save_as_external_data=False)
        onnx.checker.check_model(str(tmp))
        size_mb = tmp.stat().st_size / 1e6
        if size_mb > spec.size_budget_mb:
            raise ModelError(f"{spec.name}: ONNX file is {size_mb:.2f} MB, over its {spec.size_budget_mb:g} MB budget")
        diff = check_parity(tmp, module, check, atol=atol)
    return size_mb, diff


def export_checkpoint(
    checkpoint: str | Path, output: str | Path, *, atol: float = PARITY_ATOL, exporter: Exporter = "torchscript"
) -> ExportReport:
    """Export a checkpoint written by ``pixbench train`` (see :func:`export_model`)."""
    ckpt = read_checkpoint(checkpoint)
    spec, model = model_from_checkpoint(ckpt, where=f"checkpoint {checkpoint}")
    data = ckpt["dataset"]
    recipe = data.get("recipe") or {}
    return export_model(
        model,
        spec,
        output,
        model_args=spec.recorded_args(ckpt["model_args"]),
        task=data.get("task"),
        dataset_fingerprint=data.get("fingerprint"),
        recipe=f"{recipe['name']}@{recipe['version']}" if recipe else None,
        atol=atol,
        exporter=exporter,
        training=ckpt.get("training"),
    )
