"""What a training run works with, fixed before its first step: the checks, the batches, the network and its stepper.

:func:`prepare_run` checks the dataset and the options against the model and opens the train and
val batches (:class:`RunSetup`); :func:`build_network` builds the network, its optimiser(s) and loss,
and the :class:`~pixbench.train.step.Stepper` that trains it. :mod:`~pixbench.train.loop` runs them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixbench.datasets import BuiltDataset
from pixbench.models import ModelSpec
from pixbench.tasks import primary_metric
from pixbench.train.checks import check_options, check_splits, training_factor
from pixbench.train.data import CACHE_BYTES, SplitBatches
from pixbench.train.losses import MaskLoss, restorer_loss
from pixbench.train.provenance import config_sha256
from pixbench.train.schedule import Budget
from pixbench.train.settings import TrainSettings, resolve_device
from pixbench.train.step import Stepper


def build_network(
    spec: ModelSpec, args: dict[str, Any], settings: TrainSettings, device: torch.device, lr: float
) -> tuple[nn.Module, Stepper]:
    """The network on ``device``, its optimiser(s) at peak rate ``lr``, its loss, and the stepper that trains it."""
    net = spec.build(args).to(device)
    disc = spec.discriminator(width=args["width"]).to(device) if spec.discriminator else None
    betas = (0.5, 0.999) if disc is not None else (0.9, 0.999)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas) if disc is not None else None
    if spec.output == "logit":
        loss_fn: nn.Module = nn.BCEWithLogitsLoss()
    elif spec.output == "mask":
        loss_fn = MaskLoss()
    elif disc is not None:
        loss_fn = nn.L1Loss()
    else:
        loss_fn = restorer_loss(settings.loss, vgg_weights=settings.vgg_weights)
    forward = net.restore_context if settings.context_loss else None  # checked to be a triplet model
    return net, Stepper(net, opt, loss_fn.to(device), device, settings, disc=disc, opt_d=opt_d, forward=forward)


@dataclass
class RunSetup:
    """What a run trains with, all fixed before the first step."""

    spec: ModelSpec
    ds: BuiltDataset
    run: Path
    args: dict[str, Any]
    settings: TrainSettings
    device: torch.device
    train_data: SplitBatches
    val_data: SplitBatches
    lr: float  # the peak learning rate
    metric: str  # the task's primary metric, which picks best.pt
    budget: Budget
    config_hash: str


def prepare_run(
    spec: ModelSpec, ds: BuiltDataset, run: Path, args: dict[str, Any], settings: TrainSettings
) -> RunSetup:
    """Check the dataset and the options against the model, and open the train and val batches."""
    check_splits(ds)
    device = resolve_device(settings.device)
    crop = settings.crop or spec.train_crop
    check_options(spec, settings, crop)
    cache = CACHE_BYTES if settings.cache else 0
    factor = training_factor(spec, args, settings.factor)
    train_data = SplitBatches(
        ds.split("train"),
        spec,
        crop=crop,
        factor=factor,
        quality=settings.quality,
        augment=settings.augment,
        cache_bytes=cache,
        context_targets=settings.context_loss,
    )
    return RunSetup(
        spec=spec,
        ds=ds,
        run=run,
        args=args,
        settings=settings,
        device=device,
        train_data=train_data,
        val_data=SplitBatches(
            ds.split("val"), spec, crop=None, factor=factor, quality=settings.quality, cache_bytes=cache
        ),
        lr=settings.lr or spec.default_lr,
        metric=primary_metric(ds.task),
        budget=Budget(*settings.budget, steps_per_epoch=math.ceil(len(train_data) / settings.batch_size)),
        config_hash=config_sha256(spec, args, settings),
    )
