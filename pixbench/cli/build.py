"""`pixbench build-dataset`: recipe x source -> a dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pixbench.cli._common import console, handle_errors, progress_bar


@handle_errors
def build_dataset(
    recipe: str = typer.Argument(..., help="A shipped recipe name (list them with `pixbench recipes`) or the path to a recipe .yaml file."),
    out: Path = typer.Option(..., "-o", "--out", help="Dataset folder to write. Rerunning the same command resumes an interrupted build."),
    source: Optional[str] = typer.Option(None, "--source", help="Image source overriding the recipe's: embedded, folder:PATH, hf:REPO_ID[:split[:column]], urls:FILE, kodak[:PATH]."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N images of the source."),
    split: Optional[str] = typer.Option(None, "--split", help="Put every source image into this one split (train, val or test) instead of the recipe's fractions, e.g. a test set from Kodak."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (default: all cores). The output is the same for any number."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a different pixbench dataset already in OUT (other folders are never deleted)."),
) -> None:
    """Build a dataset from a recipe: crops, degradations, metadata, and a dataset card."""
    from pixbench.build import build_dataset as build
    from pixbench.recipes import resolve_recipe

    parsed, path = resolve_recipe(recipe)
    with progress_bar() as progress:
        result = build(parsed, out, source=source, limit=limit, split=split, workers=workers, overwrite=overwrite,
                       progress=progress)
    info = result.info
    if result.up_to_date:
        console.print(f"[green]{out}[/green] already holds this dataset; nothing to do.", highlight=False, soft_wrap=True)
    else:
        resumed = f", {result.reused} reused from an interrupted run" if result.reused else ""
        console.print(f"[green]built[/green] {parsed.label} in {out} ({result.processed} images processed{resumed})",
                      highlight=False, soft_wrap=True)
    order = [s for s in ("train", "val", "test") if s in info["splits"]]
    splits = ", ".join(f"{s}: {info['splits'][s]['samples']} samples from {info['splits'][s]['source_images']} images"
                       for s in order)
    console.print(f"  task {info['task']}; {splits or 'no samples'}", highlight=False, soft_wrap=True)
    if "triplets" in info:
        console.print("  triplets: " + ", ".join(f"{s}: {n}" for s, n in info["triplets"].items()), highlight=False, soft_wrap=True)
    console.print(f"  source {info['source']['spec']}: {info['source']['images']} images, "
                  f"{len(info['skipped'])} skipped", highlight=False, soft_wrap=True)
    for item in info["skipped"][:10]:
        console.print(f"    [yellow]skipped[/yellow] {item['source_id']}: {item['reason']}", highlight=False, soft_wrap=True)
    if len(info["skipped"]) > 10:
        console.print(f"    ... and {len(info['skipped']) - 10} more (see dataset.json)", highlight=False, soft_wrap=True)
    console.print(f"  fingerprint {info['fingerprint']}", highlight=False, soft_wrap=True)
