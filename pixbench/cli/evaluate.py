"""`pixbench evaluate MODEL --dataset DIR`: score a model, print a summary, write the result files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pixbench.cli._common import console, fail, handle_errors, output_file, plain, progress_bar, say

if TYPE_CHECKING:
    from pixbench.results import ModelInfo, Result

_CHOICES = {"layout": ("nchw", "nhwc"), "range": ("01", "11", "255"), "channels": ("rgb", "y")}

ModelArg = Annotated[
    Path, typer.Argument(help="The model: an .onnx file, or a JSON model file from `pixbench baseline`.")
]
DatasetOpt = Annotated[
    Path,
    typer.Option(
        "--dataset", "-d", help="A dataset folder built by `pixbench build-dataset`; its task decides the metrics."
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Result JSON to write (default results/<model>--<dataset>.json); the per-sample CSV and crops PNG go beside it.",
    ),
]
SplitOpt = Annotated[str, typer.Option("--split", help="Dataset split to score: train, val or test.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Score only the first N samples (quick runs).")]
FactorOpt = Annotated[
    int | None,
    typer.Option(
        "--factor",
        help="Score only samples of this pixelation factor (a low-res x4 model on a mixed-factor set: --factor 4).",
    ),
]
QualityOpt = Annotated[
    int | None,
    typer.Option(
        "--quality",
        help="Score only samples of this JPEG quality (a model trained for one quality on a mixed set: --quality 10).",
    ),
]
LayoutOpt = Annotated[str | None, typer.Option("--layout", help="Override the input layout: nchw or nhwc.")]
RangeOpt = Annotated[
    str | None,
    typer.Option("--range", help="Override the value range: 01 (float [0,1]), 11 (float [-1,1]) or 255 ([0,255])."),
]
ChannelsOpt = Annotated[
    str | None,
    typer.Option(
        "--channels", help="Override the colour channels: rgb, or y (BT.601 luma; chroma taken from the input)."
    ),
]
OverlapOpt = Annotated[
    int,
    typer.Option("--overlap", help="Pixels shared by neighbouring tiles of a fixed-size restorer (blended linearly)."),
]
ThreadsOpt = Annotated[
    int | None, typer.Option("--threads", help="onnxruntime intra-op threads (default: every logical core).")
]
LpipsOpt = Annotated[
    bool, typer.Option("--lpips/--no-lpips", help="Compute LPIPS (needs the AlexNet weights on disk).")
]
SpeedOpt = Annotated[
    bool, typer.Option("--speed/--no-speed", help="Measure FPS and latency at 1920x1080 and at the native size.")
]
RunsOpt = Annotated[int, typer.Option("--runs", help="Timed frames per size, after the warm-up.")]
WarmupOpt = Annotated[int, typer.Option("--warmup", help="Untimed frames per size before timing.")]


@handle_errors
def evaluate(
    model: ModelArg,
    dataset: DatasetOpt,
    output: OutputOpt = None,
    split: SplitOpt = "test",
    limit: LimitOpt = None,
    factor: FactorOpt = None,
    quality: QualityOpt = None,
    layout: LayoutOpt = None,
    range_: RangeOpt = None,
    channels: ChannelsOpt = None,
    overlap: OverlapOpt = 32,
    threads: ThreadsOpt = None,
    lpips: LpipsOpt = True,
    speed: SpeedOpt = True,
    runs: RunsOpt = 10,
    warmup: WarmupOpt = 2,
) -> None:
    """Score a model on a built dataset: task metrics next to the degraded input's, speed, size, targets."""
    from pixbench.evaluate import EvaluateOptions, default_output
    from pixbench.evaluate import evaluate as run_evaluate

    for flag, value in (("layout", layout), ("range", range_), ("channels", channels)):
        if value is not None and value not in _CHOICES[flag]:
            raise fail(f"--{flag} {value!r} is not one of {', '.join(_CHOICES[flag])}")
    if runs < 1 or warmup < 0 or overlap < 0:
        raise fail(f"--runs must be >= 1, --warmup and --overlap >= 0 (got {runs}, {warmup}, {overlap})")
    out = output or default_output(model, dataset)
    output_file("-o", out)
    opts = EvaluateOptions(
        split=split,
        limit=limit,
        factor=factor,
        quality=quality,
        layout=layout,
        range=range_,
        channels=channels,
        overlap=overlap,
        threads=threads,
        lpips=lpips,
        speed=speed,
        runs=runs,
        warmup=warmup,
    )
    with progress_bar() as progress:
        result = run_evaluate(model, dataset, out, opts, progress=progress, on_ready=_print_assumed)
    _print_summary(result, out)


def _print_assumed(model: ModelInfo) -> None:
    src = model.assumed_from
    parts = [f"{k}={v}" + (f" ({src[k]})" if k in src else "") for k, v in model.assumed.items()]
    say("[bold]{}[/bold]: {}", model.file, ", ".join(parts))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return plain(value)


def _print_summary(result: Result, out: Path) -> None:
    _print_metrics(result)
    if result.metrics.lpips_note:
        say("LPIPS: n/a ({})", result.metrics.lpips_note)
    if result.failures.count:
        say(
            "[yellow]{} samples failed[/yellow]: {}",
            result.failures.count,
            "; ".join(f"{n}x {r}" for r, n in result.failures.reasons.items()),
        )
    speed = result.speed
    if speed is not None:
        say(
            "speed ({}, {} threads): 1080p {:.2f} FPS (median {:.1f} ms, p90 {:.1f} ms); native {} {:.1f} FPS",
            speed.provider,
            speed.threads,
            speed.fps_1080p,
            speed.latency_ms_median_1080p,
            speed.latency_ms_p90_1080p,
            speed.native_size,
            speed.fps_native,
        )
    model = result.model
    flops = "n/a" if model.flops_1080p is None else f"{model.flops_1080p:.3g}"
    say("size {:.3f} MB, {} parameters, FLOPs at 1080p {}", model.size_mb, model.params, flops)
    marks = {True: "[green]pass[/green]", False: "[red]fail[/red]", None: "n/a"}
    say("targets: " + ", ".join(f"{{}} {marks[v]}" for v in result.targets.values()), *result.targets)
    say("wrote {}", out)


def _print_metrics(result: Result) -> None:
    """The model's metrics, beside the degraded input's where the model restores images."""
    from rich.table import Table

    from pixbench.tasks import get_task

    restores = get_task(result.task).restores
    metrics, dataset = result.metrics, result.dataset
    table = Table(
        title=plain(f"{result.model.name} on {dataset.recipe.name} ({dataset.split}, {dataset.samples} samples)")
    )
    table.add_column("metric")
    table.add_column("model", justify="right")
    if restores:
        table.add_column("degraded input", justify="right")
    for key, value in metrics.model.items():
        if isinstance(value, (dict, list)):
            continue
        cells = [plain(key), _fmt(value)]
        if restores:
            cells.append(_fmt((metrics.degraded or {}).get(key)))
        table.add_row(*cells)
    if metrics.triplets is not None:
        t = metrics.triplets
        table.add_row(f"psnr (triplets, n={t.n})", _fmt(t.model["psnr"]), _fmt(t.degraded["psnr"]))
    console.print(table)
