"""`pixbench baseline NAME -o FILE`: write a classical baseline as a model file for `pixbench evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import handle_errors, output_file, say


@handle_errors
def baseline(
    name: str | None = typer.Argument(
        None,
        help=(
            "Baseline: identity, bicubic, lanczos (restoration), constant (detect), biharmonic, pushpull"
            " (inpaint), flatness or grid-localizer (localize). Omit it to list them with what each does."
        ),
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write: .onnx, or .json for biharmonic (a JSON model file)."
    ),
    task: str = typer.Option(
        "jpeg",
        "--task",
        help="identity only: the restoration task (any task that restores, e.g. depixelate, jpeg, jpeg-gray, sr-bicubic).",
    ),
    scale: int = typer.Option(
        4, "--scale", help="bicubic/lanczos only: upscale factor; must equal the dataset's pixelation factor."
    ),
    value: float = typer.Option(1.0, "--value", help="constant only: the probability it answers for every image."),
) -> None:
    """Write a classical baseline that runs through `pixbench evaluate` like any model."""
    from pixbench.baselines import BASELINES, write_baseline
    from pixbench.errors import ModelError

    if name is None:
        for key in BASELINES:
            say("{:16s} {}", key, BASELINES.get(key)[2])
        return
    if output is None:
        raise ModelError("--output/-o is required: the file to write the baseline to")
    output_file("-o", output)
    path = write_baseline(name, output, task=task, scale=scale, value=value)
    say("wrote {}", path)
