"""`pixbench train`: train a reference model on a built dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pixbench.cli._common import handle_errors, output_folder, progress_bar, say

if TYPE_CHECKING:
    from pixbench.models import ModelSpec
    from pixbench.train import TrainResult, TrainSettings

_BUDGET = "Budget (give one; default --epochs 10)"
_CAP = "Whole-run cap (with any budget)"
_OPT = "Optimisation"
_DATA = "Data"

_Model = Annotated[
    str,
    typer.Argument(help="Registry name of the model, e.g. sepunet-detector, espcn, blockcnn (see docs/models.md)."),
]
_Dataset = Annotated[
    Path,
    typer.Option(
        "--dataset", "-d", help="Dataset folder written by `pixbench build-dataset`; its task must fit the model."
    ),
]
_Out = Annotated[
    Path,
    typer.Option("--out", "-o", help="Run folder: last.pt, best.pt, metrics.csv and curves.png are written here."),
]
_Config = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="YAML file with `args:` (model options) and `settings:` (any option below, e.g. steps, batch_size, schedule); options given on the command line win.",
    ),
]
_Epochs = Annotated[
    int | None,
    typer.Option(
        "--epochs",
        min=1,
        rich_help_panel=_BUDGET,
        help="Train this many passes over the train split (default 10). Bit-reproducible on the CPU.",
    ),
]
_Steps = Annotated[
    int | None,
    typer.Option(
        "--steps",
        min=1,
        rich_help_panel=_BUDGET,
        help="Train this many optimiser steps; the last epoch may be partial. Bit-reproducible on the CPU.",
    ),
]
_Minutes = Annotated[
    float | None,
    typer.Option(
        "--minutes",
        min=0.0,
        rich_help_panel=_BUDGET,
        help="Train for this many minutes of training time (validation not counted), stopping after the step at which it runs out. Depends on the machine's speed, so NOT reproducible.",
    ),
]
_MaxMinutes = Annotated[
    float | None,
    typer.Option(
        "--max-minutes",
        min=0.0,
        rich_help_panel=_CAP,
        help="Cap the whole run at this many minutes of wall clock (setup, data, steps, validation and checkpoints; all --resume sessions together), beside any budget: training stops early enough to validate and save within it, and best.pt's record says the run was capped. It never changes the schedule, so a run that ends within it has the uncapped weights.",
    ),
]
_BatchSize = Annotated[
    int | None,
    typer.Option("--batch-size", min=1, rich_help_panel=_OPT, help="Samples per optimisation step (default 8)."),
]
_Lr = Annotated[
    float | None,
    typer.Option(
        "--lr",
        min=0.0,
        rich_help_panel=_OPT,
        help="Peak Adam learning rate (default: the model's own, 1e-3 or 2e-4 for pix2pix).",
    ),
]
_Schedule = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        rich_help_panel=_OPT,
        help="Learning rate over the budget: constant, cosine (default; decays to 1% of --lr) or onecycle (rises from lr/25 over the first 30%, then falls to lr/1e4).",
    ),
]
_Warmup = Annotated[
    float | None,
    typer.Option(
        "--warmup",
        min=0.0,
        max=0.99,
        rich_help_panel=_OPT,
        help="Share of the budget for a linear warmup from 1% of --lr (default 0.02; constant and cosine).",
    ),
]
_Amp = Annotated[
    bool | None,
    typer.Option(
        "--amp/--no-amp",
        rich_help_panel=_OPT,
        help="CUDA mixed precision (float16 autocast + gradient scaling); default on. No effect on the CPU.",
    ),
]
_Loss = Annotated[
    str | None,
    typer.Option(
        "--loss",
        rich_help_panel=_OPT,
        help="Restorer loss: l1 (default), mse, or perceptual (VGG-19; needs --vgg-weights or vgg19-dcbb9e9d.pth in the torch hub cache).",
    ),
]
_VggWeights = Annotated[
    Path | None,
    typer.Option(
        "--vgg-weights", rich_help_panel=_OPT, help="Path to torchvision's vgg19-dcbb9e9d.pth for --loss perceptual."
    ),
]
_Crop = Annotated[
    int | None,
    typer.Option(
        "--crop",
        min=8,
        rich_help_panel=_DATA,
        help="Side of random training crops (default: the model's, e.g. 128 for restorers; whole samples for detectors).",
    ),
]
_Factor = Annotated[
    int | None,
    typer.Option(
        "--factor",
        min=1,
        rich_help_panel=_DATA,
        help="Train and validate on the samples of this pixelation factor only (depixelate datasets mix 2, 4 and 8); low-resolution models use their scale, grid models their grid.",
    ),
]
_Quality = Annotated[
    int | None,
    typer.Option(
        "--quality",
        min=1,
        max=100,
        rich_help_panel=_DATA,
        help="Train and validate on the samples of this JPEG quality only (jpeg and jpeg-gray datasets mix 10 to 40), for a per-quality deblocker.",
    ),
]
_Augment = Annotated[
    bool | None,
    typer.Option(
        "--augment/--no-augment",
        rich_help_panel=_DATA,
        help="Random flips and 90-degree rotations that keep the JPEG/pixelation grid in place (rotations on square crops only); default on.",
    ),
]
_ContextLoss = Annotated[
    bool | None,
    typer.Option(
        "--context-loss/--no-context-loss",
        rich_help_panel=_DATA,
        help="blockcnn: train on the whole restored 24x24 context against the clean one (nine blocks of loss per triplet instead of the centre's one; needs the dataset's clean crops); validation and the exported model still use the centre only. Default off.",
    ),
]
_Cache = Annotated[
    bool | None,
    typer.Option(
        "--cache/--no-cache",
        rich_help_panel=_DATA,
        help="Keep decoded samples in memory (up to 2 GiB) so epochs after the first do not decode PNGs again; default on.",
    ),
]
_ValEvery = Annotated[
    int | None,
    typer.Option("--val-every", min=1, help="Validate every K epochs (default 1); the last epoch is always validated."),
]
_Device = Annotated[
    str | None, typer.Option("--device", help="auto (default: CUDA when present, else CPU), cpu, cuda or cuda:N.")
]
_Seed = Annotated[
    int | None,
    typer.Option(
        "--seed",
        min=0,
        help="Seeds weights, data order, crops and flips (default 0); the same seed and an epochs or steps budget give the same weights on the CPU.",
    ),
]
_Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the run in --out from last.pt with its recorded settings; only a larger budget, --max-minutes, --device and --cache apply.",
    ),
]
_Pretrained = Annotated[
    bool,
    typer.Option(
        "--pretrained",
        help="mobilenetv2-classifier: start from ImageNet weights (mobilenet_v2-b0353104.pth, never downloaded).",
    ),
]
_WeightsPath = Annotated[
    Path | None,
    typer.Option("--weights-path", help="With --pretrained: the ImageNet weights file (default: the torch hub cache)."),
]
_Arg = Annotated[
    list[str] | None,
    typer.Option(
        "--arg", help="Model option KEY=VALUE, repeatable, e.g. --arg width=16 --arg scale=8 --arg unshuffle=4."
    ),
]


@handle_errors
def train(
    model: _Model,
    dataset: _Dataset,
    out: _Out,
    config: _Config = None,
    epochs: _Epochs = None,
    steps: _Steps = None,
    minutes: _Minutes = None,
    max_minutes: _MaxMinutes = None,
    batch_size: _BatchSize = None,
    lr: _Lr = None,
    schedule: _Schedule = None,
    warmup: _Warmup = None,
    amp: _Amp = None,
    loss: _Loss = None,
    vgg_weights: _VggWeights = None,
    crop: _Crop = None,
    factor: _Factor = None,
    quality: _Quality = None,
    augment: _Augment = None,
    context_loss: _ContextLoss = None,
    cache: _Cache = None,
    val_every: _ValEvery = None,
    device: _Device = None,
    seed: _Seed = None,
    resume: _Resume = False,
    pretrained: _Pretrained = False,
    weights_path: _WeightsPath = None,
    arg: _Arg = None,
) -> None:
    """Train MODEL on a dataset to a budget of epochs, steps or minutes; keeps the last and the best checkpoint.

    A steps or epochs budget is bit-reproducible on the CPU (same seed, same weights, also across --resume); a minutes budget is not, since how far it gets depends on the machine.
    """
    from pixbench.models import MODELS
    from pixbench.train import train_model

    output_folder("-o", out)
    spec = MODELS.get(model)
    options, values = _model_options(spec, config, arg or [], pretrained, weights_path)
    budget = dict(epochs=epochs, steps=steps, minutes=minutes)
    optimisation = dict(batch_size=batch_size, lr=lr, schedule=schedule, warmup=warmup, amp=amp, loss=loss)
    data = dict(crop=crop, factor=factor, quality=quality, augment=augment, context_loss=context_loss, cache=cache)
    run = dict(val_every=val_every, device=device, seed=seed, vgg_weights=str(vgg_weights) if vgg_weights else None)
    run["max_minutes"] = max_minutes
    settings = _settings(values, {**budget, **optimisation, **data, **run})
    with progress_bar() as progress:
        result = train_model(
            model, dataset, out, model_args=options, settings=settings, resume=resume, progress=progress
        )
    _report(result)


def _model_options(
    spec: ModelSpec, config: Path | None, pairs: list[str], pretrained: bool, weights_path: Path | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model options (``--config``'s ``args:``, then ``--arg``, then ``--pretrained``) and ``--config``'s settings."""
    from pixbench.errors import ModelError
    from pixbench.train import load_train_config, parse_model_options

    options, values = load_train_config(config, spec) if config is not None else ({}, {})
    options.update(parse_model_options(spec, pairs))
    if pretrained or weights_path:
        if "pretrained" not in spec.full_args():
            raise ModelError(
                f"--pretrained: {spec.name} has no pretrained weights; it applies to mobilenetv2-classifier"
            )
        options.update(pretrained=True, weights_path=str(weights_path) if weights_path else None)
    return options, values


def _settings(values: dict[str, Any], given: dict[str, Any]) -> TrainSettings:
    """``--config``'s settings with the options given on the command line (not ``None``) over them.

    A budget on the command line replaces the file's, whichever kind either names.
    """
    from pixbench.train import TrainSettings

    given = {k: v for k, v in given.items() if v is not None}
    if any(k in given for k in ("epochs", "steps", "minutes")):
        values = {k: v for k, v in values.items() if k not in ("epochs", "steps", "minutes")}
    return TrainSettings.create(**{**values, **given})


def _report(result: TrainResult) -> None:
    if result.capped:
        say(
            "stopped by --max-minutes after {} steps, {:.2f} min of wall clock in all",
            result.steps,
            result.wall_minutes,
        )
    say(
        "best {} = {:.4f} at epoch {}; {} steps in {:.2f} min; checkpoints in {} (best.pt, last.pt), per-epoch "
        "metrics in {}, curves in {}",
        result.best_metric,
        result.best_value,
        result.best_epoch,
        result.steps,
        result.minutes,
        result.run_dir,
        result.run_dir / "metrics.csv",
        result.run_dir / "curves.png",
    )
