"""Checks before a run starts: the dataset fits the model, and the training options fit the model.

Each failure is one :class:`~pixbench.errors.ModelError` (or
:class:`~pixbench.errors.DatasetError`) naming the option or the dataset and what would work,
raised before any weights are built.
"""

from __future__ import annotations

from typing import Any

from pixbench.datasets import BuiltDataset
from pixbench.errors import DatasetError, ModelError
from pixbench.models import MODELS, ModelSpec
from pixbench.train.settings import TrainSettings


def check_fit(spec: ModelSpec, ds: BuiltDataset, args: dict[str, Any], factor: int | None = None) -> None:
    """Raise if the dataset's task (or pixelation factor) does not fit the model (and ``--factor``)."""
    if ds.task not in spec.tasks:
        fitting = [n for n in MODELS if ds.task in MODELS.get(n).tasks]
        raise ModelError(
            f"model {spec.name!r} trains on {'/'.join(spec.tasks)} datasets, but {ds.root} is a {ds.task!r} "
            f"dataset; models for {ds.task!r}: {', '.join(fitting)}"
        )
    factor = training_factor(spec, args, factor)
    if factor is not None:
        factors = set()
        for name in ("train", "val"):
            column = ds.split(name).metadata.get("factor") if name in ds.splits else None
            if column is not None:
                factors |= {int(float(f)) for f in column if str(f) != ""}
        if factor not in factors:
            own, option = model_factor(spec, args)
            how = f"{option}={factor}" if own is not None else f"--factor {factor}"
            fix = f"pass --arg {option}=N" if own is not None else "pass --factor N"
            raise ModelError(
                f"{spec.name} with {how} trains on the samples pixelated by that factor, but "
                f"{ds.root} has factor(s) {sorted(factors) or 'unknown'}: {fix} with one of them"
            )


def model_factor(spec: ModelSpec, args: dict[str, Any]) -> tuple[int | None, str]:
    """The one pixelation factor a model learns, and the option that sets it (``None`` if any factor)."""
    if spec.input_kind == "lowres":
        return int(args["scale"]), "scale"
    if args.get("grid"):
        return int(args["grid"]), "grid"
    return None, ""


def training_factor(spec: ModelSpec, args: dict[str, Any], asked: int | None) -> int | None:
    """The pixelation factor a training uses: the model's own, else ``--factor`` (``None``: every factor).

    Raises:
        ModelError: ``--factor`` disagrees with the model's own factor.
    """
    own, option = model_factor(spec, args)
    if own is not None and asked is not None and asked != own:
        raise ModelError(f"--factor {asked}: {spec.name} with {option}={own} learns factor {own} only")
    return own if own is not None else asked


def check_splits(ds: BuiltDataset) -> None:
    """Raise unless the dataset has the train and val splits that training reads."""
    for name in ("train", "val"):
        if name not in ds.splits:
            raise DatasetError(
                f"{ds.root}: no {name!r} split; training needs train and val (has {', '.join(ds.splits)})"
            )


def check_options(spec: ModelSpec, settings: TrainSettings, crop: int | None) -> None:
    """Raise if ``--loss``, the crop (``--crop`` or the model's own) or ``--context-loss`` does not fit the model."""
    if settings.loss != "l1" and (spec.output != "image" or spec.discriminator is not None):
        fixed = {"logit": "BCE", "mask": "BCE + soft Dice"}.get(spec.output, "L1 + GAN")
        raise ModelError(f"--loss {settings.loss}: {spec.name} always trains with {fixed}; --loss applies to restorers")
    if crop is not None and crop < spec.min_crop:
        raise ModelError(f"--crop {crop}: {spec.name} needs crops of at least {spec.min_crop} pixels")
    if settings.context_loss and spec.input_kind != "triplet":
        raise ModelError(f"--context-loss: applies to models of BlockCNN triplets (blockcnn), not {spec.name}")
