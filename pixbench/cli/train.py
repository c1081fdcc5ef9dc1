"""`pixbench train`: train a reference model on a built dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import console, handle_errors, progress_bar


@handle_errors
def train(
    model: str = typer.Argument(..., help="Registry name of the model, e.g. sepunet-detector, espcn, blockcnn (see docs/models.md)."),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="Dataset folder written by `pixbench build-dataset`; its task must fit the model."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: last.pt, best.pt and metrics.csv are written here."),
    epochs: int = typer.Option(10, "--epochs", min=1, help="Total number of epochs (with --resume: train until this many are done)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Samples per optimisation step."),
    lr: float | None = typer.Option(None, "--lr", min=0.0, help="Adam learning rate (default: the model's own, 1e-3 or 2e-4 for pix2pix)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds weights, data order and crops; the same seed gives the same weights on the CPU."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from last.pt with its recorded settings (only --epochs and --device apply)."),
    crop: int | None = typer.Option(None, "--crop", min=8, help="Side of random training crops (default: the model's, e.g. 128 for restorers; whole samples for detectors)."),
    loss: str = typer.Option("l1", "--loss", help="Restorer loss: l1, mse, or perceptual (VGG-19; needs --vgg-weights or vgg19-dcbb9e9d.pth in the torch hub cache)."),
    vgg_weights: Path | None = typer.Option(None, "--vgg-weights", help="Path to torchvision's vgg19-dcbb9e9d.pth for --loss perceptual."),
    pretrained: bool = typer.Option(False, "--pretrained", help="mobilenetv2-classifier: start from ImageNet weights (mobilenet_v2-b0353104.pth, never downloaded)."),
    weights_path: Path | None = typer.Option(None, "--weights-path", help="With --pretrained: the ImageNet weights file (default: the torch hub cache)."),
    arg: list[str] = typer.Option([], "--arg", help="Model option KEY=VALUE, repeatable, e.g. --arg width=16 --arg scale=8 --arg freeze_depth=10."),
) -> None:
    """Train MODEL on a dataset, validating each epoch; keeps the last and the best checkpoint."""
    from pixbench.errors import ModelError
    from pixbench.models import MODELS
    from pixbench.train import TrainSettings, parse_model_options, train_model

    spec = MODELS.get(model)
    options = parse_model_options(spec, arg)
    if pretrained or weights_path:
        if "pretrained" not in spec.full_args():
            raise ModelError(f"--pretrained: {model} has no pretrained weights; it applies to mobilenetv2-classifier")
        options.update(pretrained=True, weights_path=str(weights_path) if weights_path else None)
    settings = TrainSettings.create(
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device, crop=crop, loss=loss,
        vgg_weights=str(vgg_weights) if vgg_weights else None,
    )
    with progress_bar() as progress:
        result = train_model(model, dataset, out, model_args=options, settings=settings, resume=resume, progress=progress)
    console.print(
        f"best {result.best_metric} = {result.best_value:.4f} at epoch {result.best_epoch}; "
        f"checkpoints in {result.run_dir} (best.pt, last.pt), per-epoch metrics in {result.run_dir / 'metrics.csv'}"
    )
