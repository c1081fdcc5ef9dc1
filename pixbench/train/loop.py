"""One training harness for every reference model: ``pixbench train``.

:func:`train_model` reads a dataset built by ``pixbench build-dataset``, checks that its
task fits the model, trains with the model's loss (BCE for detectors; L1, MSE or VGG-19
perceptual for restorers; L1 + GAN for pix2pix) to a budget of epochs, steps or minutes
with a learning-rate schedule sized to that budget (:mod:`~pixbench.train.schedule`),
validates every ``val_every`` epochs and after the last with ``pixbench.metrics``, and
writes into the run folder::

    RUN_DIR/last.pt       checkpoint after the latest epoch (what --resume continues)
    RUN_DIR/best.pt       checkpoint with the best validation primary metric
    RUN_DIR/metrics.csv   one row per epoch: steps, train loss, lr, seconds, validation metrics
    RUN_DIR/curves.png    loss and metric curves, redrawn after each validation

Training is seeded: on the CPU the same seed and an epochs or steps budget give the same
weights, and an interrupted run resumed with ``--resume`` ends with the same weights as one
that was never stopped (data order, crops and flips come from a generator seeded by
``(seed, epoch)``; the torch RNG state, the step count and the training seconds are stored in
each checkpoint). A minutes budget depends on the machine's speed, so it is not reproducible.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from pixbench.datasets import BuiltDataset, open_dataset
from pixbench.errors import DatasetError, ModelError
from pixbench.images import atomic_output
from pixbench.models import MODELS, ModelSpec
from pixbench.progress import Progress, silent
from pixbench.tasks import primary_metric
from pixbench.train.checkpoint import load_state_strict, read_checkpoint, save_checkpoint
from pixbench.train.curves import write_curves
from pixbench.train.data import CACHE_BYTES, SplitBatches
from pixbench.train.losses import restorer_loss
from pixbench.train.provenance import config_sha256, training_record
from pixbench.train.schedule import Budget, lr_factor
from pixbench.train.settings import TrainSettings, resolve_device
from pixbench.train.step import Stepper
from pixbench.train.validate import validate


@dataclass
class TrainResult:
    """What a finished :func:`train_model` call wrote."""

    run_dir: Path
    last: Path
    best: Path
    epochs: int
    steps: int
    minutes: float
    best_metric: str
    best_value: float
    best_epoch: int
    config_sha256: str
    history: list[dict[str, Any]]


@dataclass
class _State:
    """Where a run stands; saved in every checkpoint so ``--resume`` continues from it."""

    epoch: int = 1  # the epoch in progress (or the next one)
    epoch_steps: int = 0  # batches of ``epoch`` already trained
    epoch_loss: tuple[float, int] = (0.0, 0)  # summed sample losses and samples of ``epoch`` so far
    epoch_seconds: float = 0.0
    steps: int = 0
    seconds: float = 0.0  # the training clock (data and steps; no validation or saving)
    epochs_done: int = 0  # complete passes


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels on the CPU for the duration of training, then the caller's setting back."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(device.type == "cpu" or before)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


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


@contextlib.contextmanager
def _shape_errors(spec: ModelSpec, what: str) -> Iterator[None]:
    """Turn torch's shape errors (an input too small for the network) into one clear line."""
    try:
        yield
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{spec.name} cannot run on the {what} ({first}); use larger samples/--crop or a shallower model"
        ) from None


def _write_csv(path: Path, history: list[dict[str, Any]]) -> None:
    with atomic_output(path) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)


def _start(
    spec: ModelSpec,
    ds: BuiltDataset,
    run: Path,
    model_args: dict[str, Any] | None,
    settings: TrainSettings,
    resume: bool,
) -> tuple[dict[str, Any], TrainSettings, dict[str, Any] | None]:
    """Resolve constructor args and settings, from the checkpoint when resuming."""
    last = run / "last.pt"
    if not resume:
        if last.exists():
            raise ModelError(
                f"{run} already holds a training run (last.pt); pass --resume to continue it or choose another -o"
            )
        args = spec.full_args(model_args)
        check_fit(spec, ds, args, settings.factor)
        return args, settings, None
    if not last.is_file():
        raise ModelError(f"--resume: {run} has no last.pt to continue; run without --resume to start training")
    ckpt = read_checkpoint(last)
    if ckpt["model"] != spec.name:
        raise ModelError(f"--resume: {last} trained {ckpt['model']!r}, not {spec.name!r}")
    if ckpt["dataset"]["fingerprint"] != ds.fingerprint:
        raise ModelError(
            f"--resume: {last} was trained on dataset {ckpt['dataset']['fingerprint']}, but {ds.root} is {ds.fingerprint}"
        )
    if "state" not in ckpt:
        raise ModelError(f"--resume: {last} was written by an older pixbench and cannot be continued; start a new run")
    if model_args and spec.full_args(model_args) != spec.full_args(ckpt["model_args"]):
        raise ModelError(f"--resume: model options differ from the run's ({ckpt['model_args']}); drop --arg to resume")
    # the run's own settings continue; only the budget (never smaller) and the device may change
    kept = TrainSettings(**ckpt["settings"]).with_budget_of(settings)
    state = ckpt["state"]
    kind, amount = kept.budget
    done = {"steps": state["steps"], "epochs": state["epochs_done"], "minutes": state["seconds"] / 60.0}[kind]
    if kind != "minutes" and amount < done:
        raise ModelError(f"--resume: {run} has already trained {done} {kind}; give --{kind} of at least {done}")
    return spec.full_args(ckpt["model_args"]), kept, ckpt


def _build(
    spec: ModelSpec, args: dict[str, Any], settings: TrainSettings, device: torch.device, lr: float
) -> tuple[nn.Module, Stepper]:
    net = spec.build(args).to(device)
    disc = spec.discriminator(width=args["width"]).to(device) if spec.discriminator else None
    betas = (0.5, 0.999) if disc is not None else (0.9, 0.999)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas) if disc is not None else None
    if spec.output == "logit":
        loss_fn: nn.Module = nn.BCEWithLogitsLoss()
    elif disc is not None:
        loss_fn = nn.L1Loss()
    else:
        loss_fn = restorer_loss(settings.loss, vgg_weights=settings.vgg_weights)
    forward = net.restore_context if settings.context_loss else None  # checked to be a triplet model
    return net, Stepper(net, opt, loss_fn.to(device), device, settings, disc=disc, opt_d=opt_d, forward=forward)


def train_model(
    model: str,
    dataset: str | Path,
    out: str | Path,
    *,
    model_args: dict[str, Any] | None = None,
    settings: TrainSettings | None = None,
    resume: bool = False,
    progress: Progress = silent,
) -> TrainResult:
    """Train a registered model on a built dataset; see the module docstring for the outputs.

    Args:
        model: Registry name (``pixbench.models.MODELS``).
        dataset: Dataset folder written by ``pixbench build-dataset``.
        out: Run folder for checkpoints, ``metrics.csv`` and ``curves.png``.
        model_args: Constructor options (missing ones take the model's defaults).
        settings: Training options; with ``resume`` only the budget (when one is given; never
            smaller than what is done), ``device`` and ``cache`` apply.
        resume: Continue the run in ``out`` from its ``last.pt``.
        progress: Told after every step: phase ``"train"``, steps done of the budget's steps (or
            training seconds of a minutes budget), with ``epoch``, ``loss`` (the epoch's mean so
            far), ``lr`` and the latest validation primary metric.

    Raises:
        ModelError: Unknown model, a task that does not fit, a run folder in the wrong state.
        DatasetError: The dataset cannot be read or has no train/val split.
        WeightsNotFoundError: Pretrained or perceptual-loss weights are needed but missing.
    """
    spec = MODELS.get(model)
    ds = open_dataset(dataset)
    run = Path(out)
    args, settings, ckpt = _start(spec, ds, run, model_args, settings or TrainSettings(), resume)
    for name in ("train", "val"):
        if name not in ds.splits:
            raise DatasetError(
                f"{ds.root}: no {name!r} split; training needs train and val (has {', '.join(ds.splits)})"
            )
    device = resolve_device(settings.device)
    crop = settings.crop or spec.train_crop
    if settings.loss != "l1" and (spec.output == "logit" or spec.discriminator is not None):
        fixed = "BCE" if spec.output == "logit" else "L1 + GAN"
        raise ModelError(f"--loss {settings.loss}: {spec.name} always trains with {fixed}; --loss applies to restorers")
    if crop is not None and crop < spec.min_crop:
        raise ModelError(f"--crop {crop}: {spec.name} needs crops of at least {spec.min_crop} pixels")
    if settings.context_loss and spec.input_kind != "triplet":
        raise ModelError(f"--context-loss: applies to models of BlockCNN triplets (blockcnn), not {spec.name}")
    cache = CACHE_BYTES if settings.cache else 0
    factor = training_factor(spec, args, settings.factor)
    train_data = SplitBatches(
        ds.split("train"),
        spec,
        crop=crop,
        factor=factor,
        augment=settings.augment,
        cache_bytes=cache,
        context_targets=settings.context_loss,
    )
    val_data = SplitBatches(ds.split("val"), spec, crop=None, factor=factor, cache_bytes=cache)
    lr = settings.lr or spec.default_lr
    metric = primary_metric(ds.task)
    budget = Budget(*settings.budget, steps_per_epoch=math.ceil(len(train_data) / settings.batch_size))
    config_hash = config_sha256(spec, args, settings)
    recipe = f"{ds.recipe_name}@{ds.recipe_version}"
    dataset_info = {
        "path": str(ds.root),
        "fingerprint": ds.fingerprint,
        "task": ds.task,
        "recipe": {"name": ds.recipe_name, "version": ds.recipe_version},
    }

    with _deterministic(device):
        torch.manual_seed(settings.seed)
        net, stepper = _build(spec, args, settings, device, lr)
        history: list[dict[str, Any]] = []
        best: dict[str, Any] = {"metric": metric, "value": -math.inf, "epoch": 0}
        state = _State()
        if ckpt is not None:
            where = f"{run / 'last.pt'}"
            load_state_strict(net, ckpt["state_dict"], where)
            if stepper.disc is not None:
                load_state_strict(stepper.disc, ckpt["discriminator"], f"{where} (discriminator)")
            stepper.load_state_dict(ckpt)
            torch.set_rng_state(ckpt["rng"])
            history, best = list(ckpt["history"]), dict(ckpt["best"])
            saved = dict(ckpt["state"])
            state = _State(**{**saved, "epoch_loss": tuple(saved["epoch_loss"])})
            if state.epoch_steps and history and history[-1]["epoch"] == state.epoch:
                history.pop()  # the partial epoch's row is written again when the epoch goes on

        def shown() -> dict[str, float]:
            last_val = next((r[metric] for r in reversed(history) if _has(r, metric)), None)
            return {} if last_val is None else {metric: float(last_val)}

        current_lr = lr * lr_factor(
            settings.schedule, budget.fraction(state.steps, state.seconds), warmup=settings.warmup
        )
        progress("train", *budget.progress(state.steps, state.seconds), **shown())
        while not budget.exhausted(steps_done=state.steps, epochs_done=state.epochs_done, seconds=state.seconds):
            t_epoch = time.perf_counter()
            rng = np.random.default_rng([settings.seed, state.epoch])
            batches = train_data.batches(settings.batch_size, rng)
            for _ in range(state.epoch_steps):  # resuming inside an epoch: replay its data stream
                next(batches)
            total, count = state.epoch_loss
            mark = time.perf_counter()
            complete = True
            for b in batches:
                current_lr = lr * lr_factor(
                    settings.schedule, budget.fraction(state.steps, state.seconds), warmup=settings.warmup
                )
                stepper.set_lr(current_lr)
                with _shape_errors(spec, f"training batch of shape {tuple(b.input.shape)}"):
                    loss = stepper.step(b)
                now = time.perf_counter()
                state.seconds += now - mark
                mark = now
                state.steps += 1
                state.epoch_steps += 1
                total, count = total + loss * len(b.input), count + len(b.input)
                progress(
                    "train",
                    *budget.progress(state.steps, state.seconds),
                    epoch=float(state.epoch),
                    loss=total / max(count, 1),
                    lr=current_lr,
                    **shown(),
                )
                if budget.exhausted(steps_done=state.steps, epochs_done=state.epochs_done, seconds=state.seconds):
                    complete = next(batches, None) is None
                    break
            state.epoch_loss = (total, count)
            if complete:
                state.epochs_done = state.epoch
            final = budget.exhausted(steps_done=state.steps, epochs_done=state.epochs_done, seconds=state.seconds)
            row: dict[str, Any] = {
                "epoch": state.epoch,
                "steps": state.steps,
                "train_loss": total / max(count, 1),
                "lr": current_lr,
            }
            if final or state.epoch % settings.val_every == 0:
                with _shape_errors(spec, "validation images"):
                    scores = validate(
                        net,
                        val_data,
                        task=ds.task,
                        batch_size=settings.batch_size,
                        device=device,
                        loss_fn=nn.BCEWithLogitsLoss() if spec.output == "logit" else nn.L1Loss(),
                    )
            else:
                scores = {}
            state.epoch_seconds += time.perf_counter() - t_epoch
            row["seconds"] = round(state.epoch_seconds, 3)
            history.append({**row, **scores})
            improved = bool(scores) and scores[metric] > best["value"]
            if improved:
                best = {"metric": metric, "value": float(scores[metric]), "epoch": state.epoch, "steps": state.steps}
            saved_state = dict(vars(state))
            if complete:  # the next epoch starts fresh
                state.epoch, state.epoch_steps, state.epoch_loss, state.epoch_seconds = (
                    state.epoch + 1,
                    0,
                    (0.0, 0),
                    0.0,
                )
                saved_state = dict(vars(state))
            training = training_record(
                spec=spec,
                settings=settings,
                steps=state.steps,
                epochs=history[-1]["epoch"],
                train_seconds=state.seconds,
                device=device,
                amp=stepper.amp,
                dataset_fingerprint=ds.fingerprint,
                dataset_recipe=recipe,
                config_hash=config_hash,
            )
            payload = {
                "model": spec.name,
                "model_args": args,
                "dataset": dataset_info,
                "settings": settings.model_dump(),
                "epoch": history[-1]["epoch"],
                "state": saved_state,
                "config_sha256": config_hash,
                "training": training,
                "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
                **stepper.state_dict(),
                "rng": torch.get_rng_state(),
                "history": history,
                "best": best,
            }
            if stepper.disc is not None:
                payload["discriminator"] = {k: v.cpu() for k, v in stepper.disc.state_dict().items()}
            save_checkpoint(run / "last.pt", payload)
            if improved:
                save_checkpoint(run / "best.pt", payload)
            _write_csv(run / "metrics.csv", history)
            if scores:
                write_curves(run / "curves.png", history, model=spec.name, metric=metric, minutes=state.seconds / 60.0)
            progress(
                "train",
                *budget.progress(state.steps, state.seconds),
                epoch=float(history[-1]["epoch"]),
                loss=row["train_loss"],
                lr=current_lr,
                **shown(),
            )
    return TrainResult(
        run_dir=run,
        last=run / "last.pt",
        best=run / "best.pt",
        epochs=int(history[-1]["epoch"]) if history else 0,
        steps=state.steps,
        minutes=round(state.seconds / 60.0, 2),
        best_metric=metric,
        best_value=float(best["value"]),
        best_epoch=int(best["epoch"]),
        config_sha256=config_hash,
        history=history,
    )


def _has(row: dict[str, Any], key: str) -> bool:
    value = row.get(key)
    return value is not None and not (isinstance(value, float) and math.isnan(value))
