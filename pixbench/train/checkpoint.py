"""Checkpoint files: what they hold, atomic writing, and strict loading.

A checkpoint is a ``torch.save`` dict (loaded with ``weights_only=True``) holding the
model name and its full constructor arguments, the dataset it was trained on
(fingerprint, recipe, task), the training settings, the epoch, the weights, the
optimiser (and AMP gradient-scaler) state, the RNG state and the run's position (``state``:
steps, training seconds, the epoch in progress) needed to resume exactly, the config hash,
and the ``training`` provenance record (:func:`pixbench.train.provenance.training_record`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixbench import __version__
from pixbench.errors import ModelError, check_format
from pixbench.images import atomic_output
from pixbench.models import MODELS, ModelSpec

FORMAT_NAME = "pixbench-checkpoint"
FORMAT_VERSION = 1
_REQUIRED = ("model", "model_args", "dataset", "settings", "epoch", "state_dict")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (see :func:`pixbench.images.atomic_output`)."""
    payload = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "pixbench_version": __version__, **payload}
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        torch.save(payload, fh)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint file written by :func:`save_checkpoint`.

    Raises:
        ModelError: The file is missing, unreadable, or not a pixbench checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(
            f"checkpoint {path}: cannot read it ({reason}); expected a file written by `pixbench train`"
        ) from None
    check_format(
        ckpt,
        name=FORMAT_NAME,
        version=FORMAT_VERSION,
        where=f"checkpoint {path}",
        kind="checkpoint",
        error=ModelError,
        hint="expected a file written by `pixbench train`",
    )
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise ModelError(f"checkpoint {path}: missing {', '.join(missing)}; the file is incomplete")
    return ckpt


def rebuild_args(spec: ModelSpec, args: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments for rebuilding a trained model: never re-read pretrained weights.

    The checkpoint's own weights replace any pretrained ones, so rebuilding must not
    need the ImageNet file again.
    """
    args = spec.full_args(args)
    if args.get("pretrained"):
        args["pretrained"] = False
        args["weights_path"] = None
    return args


def load_state_strict(module: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict(strict=True)`` with its error turned into one clear line."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ModelError(f"{where}: weights do not fit the model ({detail})") from None


def model_from_checkpoint(ckpt: dict[str, Any], where: str = "checkpoint") -> tuple[ModelSpec, nn.Module]:
    """Rebuild the model a checkpoint describes and load its weights strictly."""
    spec = MODELS.get(ckpt["model"])
    model = spec.build(rebuild_args(spec, ckpt["model_args"]))
    load_state_strict(model, ckpt["state_dict"], where)
    return spec, model
