"""`pixbench evaluate MODEL --dataset DIR`: score a model, print a summary, write the result files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from pixbench.cli._common import console, fail, handle_errors, output_file, plain, progress_bar, say

_CHOICES = {"layout": ("nchw", "nhwc"), "range": ("01", "11", "255"), "channels": ("rgb", "y")}


@handle_errors
def evaluate(
    model: Path = typer.Argument(
        ..., help="The model: an .onnx file, or a Python model file from `pixbench baseline`."
    ),
    dataset: Path = typer.Option(
        ..., "--dataset", "-d", help="A dataset folder built by `pixbench build-dataset`; its task decides the metrics."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Result JSON to write (default results/<model>--<dataset>.json); the per-sample CSV and crops PNG go beside it.",
    ),
    split: str = typer.Option("test", "--split", help="Dataset split to score: train, val or test."),
    limit: int | None = typer.Option(None, "--limit", help="Score only the first N samples (quick runs)."),
    factor: int | None = typer.Option(
        None,
        "--factor",
        help="Score only samples of this pixelation factor (a low-res x4 model on a mixed-factor set: --factor 4).",
    ),
    layout: str | None = typer.Option(None, "--layout", help="Override the input layout: nchw or nhwc."),
    range_: str | None = typer.Option(
        None, "--range", help="Override the value range: 01 (float [0,1]), 11 (float [-1,1]) or 255 ([0,255])."
    ),
    channels: str | None = typer.Option(
        None, "--channels", help="Override the colour channels: rgb, or y (BT.601 luma; chroma taken from the input)."
    ),
    overlap: int = typer.Option(
        32, "--overlap", help="Pixels shared by neighbouring tiles of a fixed-size restorer (blended linearly)."
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="onnxruntime intra-op threads (default: every logical core)."
    ),
    lpips: bool = typer.Option(True, "--lpips/--no-lpips", help="Compute LPIPS (needs the AlexNet weights on disk)."),
    speed: bool = typer.Option(
        True, "--speed/--no-speed", help="Measure FPS and latency at 1920x1080 and at the native size."
    ),
    runs: int = typer.Option(10, "--runs", help="Timed frames per size, after the warm-up."),
    warmup: int = typer.Option(2, "--warmup", help="Untimed frames per size before timing."),
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
        doc = run_evaluate(model, dataset, out, opts, progress=progress, on_ready=lambda m: _print_assumed(m))
    _print_summary(doc, out)


def _print_assumed(model_doc: dict[str, Any]) -> None:
    src = model_doc.get("assumed_from", {})
    parts = [f"{k}={v}" + (f" ({src[k]})" if k in src else "") for k, v in model_doc["assumed"].items()]
    say("[bold]{}[/bold]: {}", model_doc["file"], ", ".join(parts))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return plain(value)


def _print_summary(doc: dict[str, Any], out: Path) -> None:
    from rich.table import Table

    metrics = doc["metrics"]
    table = Table(
        title=plain(
            f"{doc['model']['name']} on {doc['dataset']['recipe']['name']} "
            f"({doc['dataset']['split']}, {doc['dataset']['samples']} samples)"
        )
    )
    table.add_column("metric")
    table.add_column("model", justify="right")
    if doc["task"] != "detect":
        table.add_column("degraded input", justify="right")
    for key, value in metrics.get("model", {}).items():
        if isinstance(value, (dict, list)):
            continue
        cells = [plain(key), _fmt(value)]
        if doc["task"] != "detect":
            cells.append(_fmt(metrics.get("degraded", {}).get(key)))
        table.add_row(*cells)
    if "triplets" in metrics:
        t = metrics["triplets"]
        table.add_row(f"psnr (triplets, n={t['n']})", _fmt(t["model"]["psnr"]), _fmt(t["degraded"]["psnr"]))
    console.print(table)
    if metrics.get("lpips_note"):
        say("LPIPS: n/a ({})", metrics["lpips_note"])
    if doc["failures"]["count"]:
        say(
            "[yellow]{} samples failed[/yellow]: {}",
            doc["failures"]["count"],
            "; ".join(f"{n}x {r}" for r, n in doc["failures"]["reasons"].items()),
        )
    speed = doc.get("speed")
    if speed:
        say(
            "speed ({}, {} threads): 1080p {:.2f} FPS (median {:.1f} ms, p90 {:.1f} ms); native {} {:.1f} FPS",
            speed["provider"],
            speed["threads"],
            speed["fps_1080p"],
            speed["latency_ms_median_1080p"],
            speed["latency_ms_p90_1080p"],
            speed["native_size"],
            speed["fps_native"],
        )
    model = doc["model"]
    flops = "n/a" if model.get("flops_1080p") is None else f"{model['flops_1080p']:.3g}"
    say("size {:.3f} MB, {} parameters, FLOPs at 1080p {}", model["size_mb"], model["params"], flops)
    marks = {True: "[green]pass[/green]", False: "[red]fail[/red]", None: "n/a"}
    say("targets: " + ", ".join(f"{{}} {marks[v]}" for v in doc["targets"].values()), *doc["targets"])
    say("wrote {}", out)
