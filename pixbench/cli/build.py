"""`pixbench build-dataset`: recipe x source -> a dataset folder."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import handle_errors, output_folder, progress_bar, say


@handle_errors
def build_dataset(
    recipe: str = typer.Argument(
        ..., help="A shipped recipe name (list them with `pixbench recipes`) or the path to a recipe .yaml file."
    ),
    out: Path = typer.Option(
        ..., "-o", "--out", help="Dataset folder to write. Rerunning the same command resumes an interrupted build."
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        help="Image source overriding the recipe's: embedded, folder:PATH, hf:REPO_ID[:split[:column]], urls:FILE, kodak[:PATH].",
    ),
    limit: int | None = typer.Option(None, "--limit", help="Use only the first N images of the source."),
    split: str | None = typer.Option(
        None,
        "--split",
        help="Put every source image into this one split (train, val or test) instead of the recipe's fractions, e.g. a test set from Kodak.",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes (default: all cores). The output is the same for any number."
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace a different pixbench dataset already in OUT (other folders are never deleted).",
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="Where the per-image work runs: local (this machine's processes) or ray (a Ray cluster, or a local Ray instance with --workers CPUs; needs pixbench[ray]). The output is the same bytes either way; see docs/scale-out.md.",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="--engine ray: the cluster to join (HOST:PORT, ray://HOST:PORT, auto); default $RAY_ADDRESS, else a local Ray instance.",
    ),
    shard_size: int | None = typer.Option(
        None, "--shard-size", help="--engine ray: source images per Ray task (default 64)."
    ),
) -> None:
    """Build a dataset from a recipe: crops, degradations, metadata, and a dataset card."""
    from pixbench.builder import build_dataset as build
    from pixbench.recipes import resolve_recipe

    output_folder("-o", out)
    parsed, path = resolve_recipe(recipe)
    with progress_bar() as progress:
        result = build(
            parsed,
            out,
            source=source,
            limit=limit,
            split=split,
            workers=workers,
            overwrite=overwrite,
            engine=engine,
            ray_address=ray_address,
            shard_size=shard_size,
            progress=progress,
        )
    info = result.info
    if result.up_to_date:
        say("[green]{}[/green] already holds this dataset; nothing to do.", out)
    else:
        resumed = f", {result.reused} reused from an interrupted run" if result.reused else ""
        say("[green]built[/green] {} in {} ({} images processed{})", parsed.label, out, result.processed, resumed)
    order = [s for s in ("train", "val", "test") if s in info["splits"]]
    splits = ", ".join(
        f"{s}: {info['splits'][s]['samples']} samples from {info['splits'][s]['source_images']} images" for s in order
    )
    say("  task {}; {}", info["task"], splits or "no samples")
    if "triplets" in info:
        say("  triplets: {}", ", ".join(f"{s}: {n}" for s, n in info["triplets"].items()))
    say("  source {}: {} images, {} skipped", info["source"]["spec"], info["source"]["images"], len(info["skipped"]))
    for item in info["skipped"][:10]:
        say("    [yellow]skipped[/yellow] {}: {}", item["source_id"], item["reason"])
    if len(info["skipped"]) > 10:
        say("    ... and {} more (see dataset.json)", len(info["skipped"]) - 10)
    say("  fingerprint {}", info["fingerprint"])
