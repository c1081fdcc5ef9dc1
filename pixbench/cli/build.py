"""`pixbench build-dataset`: recipe x source -> a dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pixbench.cli._common import handle_errors, output_folder, progress_bar, say

_Recipe = Annotated[
    str,
    typer.Argument(
        help="A shipped recipe name (list them with `pixbench recipes`) or the path to a recipe .yaml file."
    ),
]
_Out = Annotated[
    Path,
    typer.Option(
        "-o", "--out", help="Dataset folder to write. Rerunning the same command resumes an interrupted build."
    ),
]
_Source = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Image source overriding the recipe's: embedded, folder:PATH, hf:REPO_ID[:split[:column]], urls:FILE, kodak[:PATH].",
    ),
]
_Limit = Annotated[int | None, typer.Option("--limit", help="Use only the first N images of the source.")]
_Split = Annotated[
    str | None,
    typer.Option(
        "--split",
        help="Put every source image into this one split (train, val or test) instead of the recipe's fractions, e.g. a test set from Kodak.",
    ),
]
_Workers = Annotated[
    int | None,
    typer.Option("--workers", help="Worker processes (default: all cores). The output is the same for any number."),
]
_Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Replace a different pixbench dataset already in OUT (other folders are never deleted)."
    ),
]
_Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the per-image work runs: local (this machine's processes) or ray (a Ray cluster, or a local Ray instance with --workers CPUs; needs pixbench\\[ray]). The output is the same bytes either way; see docs/scale-out.md.",
    ),
]
_RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="--engine ray: the cluster to join (HOST:PORT, ray://HOST:PORT, auto); default $RAY_ADDRESS, else a local Ray instance.",
    ),
]
_ShardSize = Annotated[
    int | None, typer.Option("--shard-size", help="--engine ray: source images per Ray task (default 64).")
]
_Format = Annotated[
    str,
    typer.Option(
        "--format",
        help="Dataset layout: imagefolder (a PNG file per image, a metadata.csv per split) or parquet (Parquet shards per split, images as PNG bytes in the Hugging Face Image layout). The fingerprint is the same; see docs/dataset-format.md.",
    ),
]
_ShardMb = Annotated[
    int | None,
    typer.Option("--parquet-shard-mb", help="--format parquet: megabytes of images per shard at most (default 500)."),
]


@handle_errors
def build_dataset(
    recipe: _Recipe,
    out: _Out,
    source: _Source = None,
    limit: _Limit = None,
    split: _Split = None,
    workers: _Workers = None,
    overwrite: _Overwrite = False,
    engine: _Engine = "local",
    ray_address: _RayAddress = None,
    shard_size: _ShardSize = None,
    layout: _Format = "imagefolder",
    shard_mb: _ShardMb = None,
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
            layout=layout,
            shard_mb=shard_mb,
            progress=progress,
        )
    if result.up_to_date:
        say("[green]{}[/green] already holds this dataset; nothing to do.", out)
    else:
        resumed = f", {result.reused} reused from an interrupted run" if result.reused else ""
        if result.duplicates:
            resumed += f", {result.duplicates} skipped as duplicate ids"
        say("[green]built[/green] {} in {} ({} images processed{})", parsed.label, out, result.processed, resumed)
    _summary(result.info)


def _summary(info: dict[str, Any]) -> None:
    """The built dataset in a few lines: task, splits, triplets, source, skipped images, fingerprint."""
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
