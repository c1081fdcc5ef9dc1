"""One training harness for every reference model: ``pixbench train``.

:func:`train_model` reads a dataset built by ``pixbench build-dataset``, checks that its
task fits the model, trains with the model's loss (BCE for detectors; L1, MSE or VGG-19
perceptual for restorers; L1 + GAN for pix2pix), validates after every epoch with
``pixbench.metrics``, and writes into the run folder::

    RUN_DIR/last.pt       checkpoint after the latest epoch (what --resume continues)
    RUN_DIR/best.pt       checkpoint with the best validation primary metric
    RUN_DIR/metrics.csv   one row per epoch: train loss, validation metrics, seconds

Training is seeded: on the CPU the same seed gives the same weights, and an interrupted
run resumed with ``--resume`` ends with the same weights as one that was never stopped
(data order and crops come from a generator seeded by ``(seed, epoch)``; the torch RNG
state is stored in each checkpoint).
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
from pixbench.train.data import Batch, SplitBatches
from pixbench.train.losses import gan_loss, restorer_loss
from pixbench.train.settings import TrainSettings, resolve_device
from pixbench.train.validate import validate


@dataclass
class TrainResult:
    """What a finished :func:`train_model` call wrote."""

    run_dir: Path
    last: Path
    best: Path
    epochs: int
    best_metric: str
    best_value: float
    best_epoch: int
    history: list[dict[str, float]]


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels on the CPU for the duration of training, then the caller's setting back."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(device.type == "cpu" or before)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def check_fit(spec: ModelSpec, ds: BuiltDataset, args: dict[str, Any]) -> None:
    """Raise if the dataset's task (or pixelation factor) does not fit the model."""
    if ds.task not in spec.tasks:
        fitting = [n for n in MODELS if ds.task in MODELS.get(n).tasks]
        raise ModelError(
            f"model {spec.name!r} trains on {'/'.join(spec.tasks)} datasets, but {ds.root} is a {ds.task!r} "
            f"dataset; models for {ds.task!r}: {', '.join(fitting)}"
        )
    if spec.input_kind == "lowres":
        factors = set()
        for name in ("train", "val"):
            column = ds.split(name).metadata.get("factor") if name in ds.splits else None
            if column is not None:
                factors |= {int(float(f)) for f in column if str(f) != ""}
        if int(args["scale"]) not in factors:
            raise ModelError(
                f"{spec.name} with scale={args['scale']} trains on the samples pixelated by that factor, but "
                f"{ds.root} has factor(s) {sorted(factors) or 'unknown'}: pass --arg scale=N with one of them"
            )


@contextlib.contextmanager
def _shape_errors(spec: ModelSpec, what: str) -> Iterator[None]:
    """Turn torch's shape errors (an input too small for the network) into one clear line."""
    try:
        yield
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{spec.name} cannot run on the {what} ({first}); use larger samples/--crop or a shallower model") from None


def _supervised_step(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: nn.Module, b: Batch,
                     device: torch.device) -> float:
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(b.input.to(device)), b.target.to(device))
    loss.backward()
    opt.step()
    return float(loss.detach())


def _gan_step(gen: nn.Module, disc: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
              b: Batch, device: torch.device, settings: TrainSettings) -> float:
    """One pix2pix step: the discriminator on real/fake pairs, then the generator on L1 + GAN."""
    x, y = b.input.to(device), b.target.to(device)
    fake = gen(x)
    opt_d.zero_grad(set_to_none=True)
    loss_d = 0.5 * (gan_loss(disc(x, y), True) + gan_loss(disc(x, fake.detach()), False))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    loss_g = settings.gan_weight * gan_loss(disc(x, fake), True) + settings.l1_weight * nn.functional.l1_loss(fake, y)
    loss_g.backward()
    opt_g.step()
    return float(loss_g.detach())


def _write_csv(path: Path, history: list[dict[str, float]]) -> None:
    with atomic_output(path) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)


def _start(spec: ModelSpec, ds: BuiltDataset, run: Path, model_args: dict[str, Any] | None,
           settings: TrainSettings, resume: bool) -> tuple[dict[str, Any], TrainSettings, dict[str, Any] | None]:
    """Resolve constructor args and settings, from the checkpoint when resuming."""
    last = run / "last.pt"
    if not resume:
        if last.exists():
            raise ModelError(f"{run} already holds a training run (last.pt); pass --resume to continue it or choose another -o")
        args = spec.full_args(model_args)
        check_fit(spec, ds, args)
        return args, settings, None
    if not last.is_file():
        raise ModelError(f"--resume: {run} has no last.pt to continue; run without --resume to start training")
    ckpt = read_checkpoint(last)
    if ckpt["model"] != spec.name:
        raise ModelError(f"--resume: {last} trained {ckpt['model']!r}, not {spec.name!r}")
    if ckpt["dataset"]["fingerprint"] != ds.fingerprint:
        raise ModelError(f"--resume: {last} was trained on dataset {ckpt['dataset']['fingerprint']}, but {ds.root} is {ds.fingerprint}")
    if model_args and spec.full_args(model_args) != spec.full_args(ckpt["model_args"]):
        raise ModelError(f"--resume: model options differ from the run's ({ckpt['model_args']}); drop --arg to resume")
    # the run's own settings continue; only the epoch count and the device may change
    kept = TrainSettings(**{**ckpt["settings"], "epochs": settings.epochs, "device": settings.device})
    return spec.full_args(ckpt["model_args"]), kept, ckpt


def train_model(model: str, dataset: str | Path, out: str | Path, *, model_args: dict[str, Any] | None = None,
                settings: TrainSettings | None = None, resume: bool = False,
                progress: Progress = silent) -> TrainResult:
    """Train a registered model on a built dataset; see the module docstring for the outputs.

    Args:
        model: Registry name (``pixbench.models.MODELS``).
        dataset: Dataset folder written by ``pixbench build-dataset``.
        out: Run folder for checkpoints and ``metrics.csv``.
        model_args: Constructor options (missing ones take the model's defaults).
        settings: Training options; with ``resume`` only ``epochs`` and ``device`` apply.
        resume: Continue the run in ``out`` from its ``last.pt``.
        progress: Told after every step (phase ``"train"``, steps done of all epochs' steps, with
            the epoch, the epoch's mean training loss and the latest validation primary metric).

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
            raise DatasetError(f"{ds.root}: no {name!r} split; training needs train and val (has {', '.join(ds.splits)})")
    device = resolve_device(settings.device)
    crop = settings.crop or spec.train_crop
    if settings.loss != "l1" and (spec.output == "logit" or spec.discriminator is not None):
        fixed = "BCE" if spec.output == "logit" else "L1 + GAN"
        raise ModelError(f"--loss {settings.loss}: {spec.name} always trains with {fixed}; --loss applies to restorers")
    if crop is not None and crop < spec.min_crop:
        raise ModelError(f"--crop {crop}: {spec.name} needs crops of at least {spec.min_crop} pixels")
    train_data = SplitBatches(ds.split("train"), spec, crop=crop, scale=args.get("scale"))
    val_data = SplitBatches(ds.split("val"), spec, crop=None, scale=args.get("scale"))
    lr = settings.lr or spec.default_lr
    metric = primary_metric(ds.task)

    with _deterministic(device):
        torch.manual_seed(settings.seed)
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
        loss_fn = loss_fn.to(device)
        history: list[dict[str, float]] = []
        best = {"metric": metric, "value": -math.inf, "epoch": 0}
        start = 1
        if ckpt is not None:
            load_state_strict(net, ckpt["state_dict"], f"{run / 'last.pt'}")
            opt.load_state_dict(ckpt["optimizer"])
            if disc is not None and opt_d is not None:
                load_state_strict(disc, ckpt["discriminator"], f"{run / 'last.pt'} (discriminator)")
                opt_d.load_state_dict(ckpt["optimizer_d"])
            torch.set_rng_state(ckpt["rng"])
            history, best, start = list(ckpt["history"]), dict(ckpt["best"]), int(ckpt["epoch"]) + 1
        dataset_info = {"path": str(ds.root), "fingerprint": ds.fingerprint, "task": ds.task,
                        "recipe": {"name": ds.recipe_name, "version": ds.recipe_version}}
        steps = math.ceil(len(train_data) / settings.batch_size)
        # one bar over every epoch's steps; an epoch with more batches than ``steps`` (samples of
        # different sizes are never stacked) stops at its share, so the bar never runs past its total
        total_steps = steps * settings.epochs
        shown: dict[str, float] = {} if not history else {metric: float(history[-1][metric])}
        progress("train", (start - 1) * steps, total_steps, **shown)
        for epoch in range(start, settings.epochs + 1):
            t0 = time.perf_counter()
            net.train()
            if disc is not None:
                disc.train()
            rng = np.random.default_rng([settings.seed, epoch])
            total, count = 0.0, 0
            for step, b in enumerate(train_data.batches(settings.batch_size, rng), start=1):
                with _shape_errors(spec, f"training batch of shape {tuple(b.input.shape)}"):
                    if disc is not None and opt_d is not None:
                        loss = _gan_step(net, disc, opt, opt_d, b, device, settings)
                    else:
                        loss = _supervised_step(net, opt, loss_fn, b, device)
                total, count = total + loss * len(b.input), count + len(b.input)
                progress("train", (epoch - 1) * steps + min(step, steps), total_steps, epoch=float(epoch),
                         loss=total / max(count, 1), **shown)
            with _shape_errors(spec, "validation images"):
                scores = validate(net, val_data, task=ds.task, batch_size=settings.batch_size, device=device,
                                  loss_fn=nn.BCEWithLogitsLoss() if spec.output == "logit" else nn.L1Loss())
            row = {"epoch": epoch, "train_loss": total / max(count, 1), **scores, "lr": lr,
                   "seconds": round(time.perf_counter() - t0, 3)}
            history.append(row)
            improved = scores[metric] > best["value"]
            if improved:
                best = {"metric": metric, "value": float(scores[metric]), "epoch": epoch}
            payload = {
                "model": spec.name, "model_args": args, "dataset": dataset_info, "settings": settings.model_dump(),
                "epoch": epoch, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
                "optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "history": history, "best": best,
            }
            if disc is not None and opt_d is not None:
                payload.update(discriminator={k: v.cpu() for k, v in disc.state_dict().items()}, optimizer_d=opt_d.state_dict())
            save_checkpoint(run / "last.pt", payload)
            if improved:
                save_checkpoint(run / "best.pt", payload)
            _write_csv(run / "metrics.csv", history)
            shown = {metric: float(scores[metric])}
            progress("train", epoch * steps, total_steps, epoch=float(epoch), loss=row["train_loss"], **shown)
    return TrainResult(run_dir=run, last=run / "last.pt", best=run / "best.pt", epochs=settings.epochs,
                       best_metric=metric, best_value=float(best["value"]), best_epoch=int(best["epoch"]), history=history)
