"""`pixbench train`: train a reference model on a built dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import handle_errors, output_folder, progress_bar, say

_BUDGET = "Budget (give one; default --epochs 10)"
_OPT = "Optimisation"
_DATA = "Data"


@handle_errors
def train(
    model: str = typer.Argument(
        ..., help="Registry name of the model, e.g. sepunet-detector, espcn, blockcnn (see docs/models.md)."
    ),
    dataset: Path = typer.Option(
        ..., "--dataset", "-d", help="Dataset folder written by `pixbench build-dataset`; its task must fit the model."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder: last.pt, best.pt, metrics.csv and curves.png are written here."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="YAML file with `args:` (model options) and `settings:` (any option below, e.g. steps, batch_size, schedule); options given on the command line win.",
    ),
    epochs: int | None = typer.Option(
        None,
        "--epochs",
        min=1,
        rich_help_panel=_BUDGET,
        help="Train this many passes over the train split (default 10). Bit-reproducible on the CPU.",
    ),
    steps: int | None = typer.Option(
        None,
        "--steps",
        min=1,
        rich_help_panel=_BUDGET,
        help="Train this many optimiser steps; the last epoch may be partial. Bit-reproducible on the CPU.",
    ),
    minutes: float | None = typer.Option(
        None,
        "--minutes",
        min=0.0,
        rich_help_panel=_BUDGET,
        help="Train for this many minutes of training time (validation not counted), stopping after the step at which it runs out. Depends on the machine's speed, so NOT reproducible.",
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, rich_help_panel=_OPT, help="Samples per optimisation step (default 8)."
    ),
    lr: float | None = typer.Option(
        None,
        "--lr",
        min=0.0,
        rich_help_panel=_OPT,
        help="Peak Adam learning rate (default: the model's own, 1e-3 or 2e-4 for pix2pix).",
    ),
    schedule: str | None = typer.Option(
        None,
        "--schedule",
        rich_help_panel=_OPT,
        help="Learning rate over the budget: constant, cosine (default; decays to 1% of --lr) or onecycle (rises from lr/25 over the first 30%, then falls to lr/1e4).",
    ),
    warmup: float | None = typer.Option(
        None,
        "--warmup",
        min=0.0,
        max=0.99,
        rich_help_panel=_OPT,
        help="Share of the budget for a linear warmup from 1% of --lr (default 0.02; constant and cosine).",
    ),
    amp: bool | None = typer.Option(
        None,
        "--amp/--no-amp",
        rich_help_panel=_OPT,
        help="CUDA mixed precision (float16 autocast + gradient scaling); default on. No effect on the CPU.",
    ),
    loss: str | None = typer.Option(
        None,
        "--loss",
        rich_help_panel=_OPT,
        help="Restorer loss: l1 (default), mse, or perceptual (VGG-19; needs --vgg-weights or vgg19-dcbb9e9d.pth in the torch hub cache).",
    ),
    vgg_weights: Path | None = typer.Option(
        None,
        "--vgg-weights",
        rich_help_panel=_OPT,
        help="Path to torchvision's vgg19-dcbb9e9d.pth for --loss perceptual.",
    ),
    crop: int | None = typer.Option(
        None,
        "--crop",
        min=8,
        rich_help_panel=_DATA,
        help="Side of random training crops (default: the model's, e.g. 128 for restorers; whole samples for detectors).",
    ),
    factor: int | None = typer.Option(
        None,
        "--factor",
        min=1,
        rich_help_panel=_DATA,
        help="Train and validate on the samples of this pixelation factor only (depixelate datasets mix 2, 4 and 8); low-resolution models use their scale, grid models their grid.",
    ),
    augment: bool | None = typer.Option(
        None,
        "--augment/--no-augment",
        rich_help_panel=_DATA,
        help="Random flips and 90-degree rotations that keep the JPEG/pixelation grid in place (rotations on square crops only); default on.",
    ),
    context_loss: bool | None = typer.Option(
        None,
        "--context-loss/--no-context-loss",
        rich_help_panel=_DATA,
        help="blockcnn: train on the whole restored 24x24 context against the clean one (nine blocks of loss per triplet instead of the centre's one; needs the dataset's clean crops); validation and the exported model still use the centre only. Default off.",
    ),
    cache: bool | None = typer.Option(
        None,
        "--cache/--no-cache",
        rich_help_panel=_DATA,
        help="Keep decoded samples in memory (up to 2 GiB) so epochs after the first do not decode PNGs again; default on.",
    ),
    val_every: int | None = typer.Option(
        None, "--val-every", min=1, help="Validate every K epochs (default 1); the last epoch is always validated."
    ),
    device: str | None = typer.Option(
        None, "--device", help="auto (default: CUDA when present, else CPU), cpu, cuda or cuda:N."
    ),
    seed: int | None = typer.Option(
        None,
        "--seed",
        min=0,
        help="Seeds weights, data order, crops and flips (default 0); the same seed and an epochs or steps budget give the same weights on the CPU.",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the run in --out from last.pt with its recorded settings; only a larger budget, --device and --cache apply.",
    ),
    pretrained: bool = typer.Option(
        False,
        "--pretrained",
        help="mobilenetv2-classifier: start from ImageNet weights (mobilenet_v2-b0353104.pth, never downloaded).",
    ),
    weights_path: Path | None = typer.Option(
        None, "--weights-path", help="With --pretrained: the ImageNet weights file (default: the torch hub cache)."
    ),
    arg: list[str] = typer.Option(
        [], "--arg", help="Model option KEY=VALUE, repeatable, e.g. --arg width=16 --arg scale=8 --arg unshuffle=4."
    ),
) -> None:
    """Train MODEL on a dataset to a budget of epochs, steps or minutes; keeps the last and the best checkpoint.

    A steps or epochs budget is bit-reproducible on the CPU (same seed, same weights, also across --resume); a minutes budget is not, since how far it gets depends on the machine.
    """
    from pixbench.errors import ModelError
    from pixbench.models import MODELS
    from pixbench.train import TrainSettings, load_train_config, parse_model_options, train_model

    output_folder("-o", out)
    spec = MODELS.get(model)
    options, values = load_train_config(config, spec) if config is not None else ({}, {})
    options.update(parse_model_options(spec, arg))
    if pretrained or weights_path:
        if "pretrained" not in spec.full_args():
            raise ModelError(f"--pretrained: {model} has no pretrained weights; it applies to mobilenetv2-classifier")
        options.update(pretrained=True, weights_path=str(weights_path) if weights_path else None)
    given = dict(
        epochs=epochs,
        steps=steps,
        minutes=minutes,
        batch_size=batch_size,
        lr=lr,
        schedule=schedule,
        warmup=warmup,
        amp=amp,
        loss=loss,
        vgg_weights=str(vgg_weights) if vgg_weights else None,
        crop=crop,
        factor=factor,
        augment=augment,
        context_loss=context_loss,
        cache=cache,
        val_every=val_every,
        device=device,
        seed=seed,
    )
    given = {k: v for k, v in given.items() if v is not None}
    if any(k in given for k in ("epochs", "steps", "minutes")):  # a budget on the command line replaces the file's
        values = {k: v for k, v in values.items() if k not in ("epochs", "steps", "minutes")}
    settings = TrainSettings.create(**{**values, **given})
    with progress_bar() as progress:
        result = train_model(
            model, dataset, out, model_args=options, settings=settings, resume=resume, progress=progress
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
