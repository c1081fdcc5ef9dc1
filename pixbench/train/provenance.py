"""What a checkpoint records about how it was made: the config hash and the ``training`` record.

The **config hash** identifies what decides a run's weights: the model, all its constructor
options, and the training settings with the budget, learning rate and crop resolved and the
runtime-only fields (:data:`~pixbench.train.settings.RUNTIME_FIELDS`: device, cache) left out.
It is the same whether the options came from ``--config FILE.yaml`` or from flags.

The ``training`` record (:func:`training_record`) goes into every checkpoint and, through
``pixbench export``, into the ONNX prop ``pixbench.training`` (``docs/onnx-metadata.md``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

from pixbench.models import ModelSpec
from pixbench.results import code_identity, cpu_identity, host_identity
from pixbench.train.settings import BUDGET_FIELDS, RUNTIME_FIELDS, TrainSettings


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces: one string per value, for hashing and for the ONNX prop."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def effective_settings(spec: ModelSpec, settings: TrainSettings) -> dict[str, Any]:
    """The settings that decide the weights, with defaults resolved against the model."""
    values = settings.model_dump(exclude=set(RUNTIME_FIELDS))
    kind, amount = settings.budget
    values.update({name: None for name in BUDGET_FIELDS})
    values[kind] = amount
    values["lr"] = settings.lr or spec.default_lr
    values["crop"] = settings.crop or spec.train_crop
    # options at their defaults that came later are left out, so configs written before them keep their hash
    for later in ("factor", "quality"):
        if values.get(later) is None:
            values.pop(later, None)
    if not values.get("context_loss"):
        values.pop("context_loss", None)
    return values


def config_sha256(spec: ModelSpec, model_args: dict[str, Any], settings: TrainSettings) -> str:
    """``sha256:<hex>`` of the canonical JSON of model, full model options and effective settings."""
    config = {
        "model": spec.name,
        "model_args": spec.recorded_args(model_args),
        "settings": effective_settings(spec, settings),
    }
    return "sha256:" + hashlib.sha256(canonical_json(config).encode()).hexdigest()


def device_description(device: torch.device) -> str:
    """``"cpu: <CPU model>, N threads"`` or the CUDA device's name."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu: {cpu_identity()[0]}, {torch.get_num_threads()} threads"
    return str(device)


def host_record(device: torch.device) -> dict[str, Any]:
    """The machine a run trained on (:func:`pixbench.results.host_identity`) and the threads torch used."""
    return {**host_identity(), "threads": torch.get_num_threads() if device.type == "cpu" else None}


def training_record(
    *,
    spec: ModelSpec,
    settings: TrainSettings,
    steps: int,
    epochs: int,
    train_seconds: float,
    device: torch.device,
    amp: bool,
    dataset_fingerprint: str,
    dataset_recipe: str,
    config_hash: str,
) -> dict[str, Any]:
    """The ``training`` entry of a checkpoint (and the ONNX prop ``pixbench.training``).

    ``steps``, ``epochs`` and ``minutes`` are those of this checkpoint: ``minutes`` is the training
    clock that a ``--minutes`` budget counts (data loading and optimiser steps, without validation and
    checkpoint writing), in minutes to 2 decimals. ``best.pt`` gets the whole run's totals when the
    run ends (:func:`with_run_totals`). ``host`` and the code keys (``pixbench``, ``revision``,
    ``numpy``, ``pillow``, ``date``) say which machine and which code made it.
    """
    return {
        "steps": int(steps),
        "epochs": int(epochs),
        "minutes": round(train_seconds / 60.0, 2),
        "device": device_description(device),
        "amp": bool(amp),
        "torch": str(torch.__version__),
        "dataset_fingerprint": dataset_fingerprint,
        "dataset_recipe": dataset_recipe,
        "config_sha256": config_hash,
        "schedule": settings.schedule,
        "lr": settings.lr or spec.default_lr,
        "batch_size": settings.batch_size,
        "budget": "{} {:g}".format(*settings.budget),
        "host": host_record(device),
        **code_identity(),
    }


def with_run_totals(record: dict[str, Any], *, steps: int, epochs: int, train_seconds: float) -> dict[str, Any]:
    """A checkpoint's record with the whole run's steps, epochs and minutes (``run_steps``, ...) added.

    The kept checkpoint (``best.pt``) is usually not the last one: its own ``steps`` and ``minutes``
    say when it was saved, these say how long the run that chose it trained.
    """
    return {
        **record,
        "run_steps": int(steps),
        "run_epochs": int(epochs),
        "run_minutes": round(train_seconds / 60.0, 2),
    }
