"""recipe x source -> dataset folder: parallel, resumable, byte-deterministic.

Each source image is one unit of work (:func:`pixbench.builder.samples.process_item`),
run by an engine (:mod:`pixbench.builder.engine`). A unit decodes its image, derives
every sample's RNG from the recipe seed, the image's pixel hash and the crop index
(never from processing order), writes the sample files atomically, and finally writes
a small *done record* under ``OUT/.pixbench-build/done/``. A rerun after an
interruption skips every image that has a record. When all images are done, the main
process assembles the dataset folder (:mod:`pixbench.builder.assemble`). Memory stays
flat: pixels live only inside one unit of work.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixbench.builder.assemble import Entry, assemble
from pixbench.builder.engine import Engine, default_workers, make_engine
from pixbench.builder.output import build_key, build_lock, record_name, start_state
from pixbench.builder.overwrite import prepare_out
from pixbench.builder.parquet import DEFAULT_SHARD_MB
from pixbench.builder.samples import process_item
from pixbench.datasets import LAYOUTS, SPLITS
from pixbench.errors import DatasetError
from pixbench.progress import Progress, silent
from pixbench.recipes import Recipe
from pixbench.sources import Source, SourceItem, open_source
from pixbench.sources.download import show_url

#: The progress phase of a build: one unit per source image.
PHASE = "source images"


@dataclass
class BuildResult:
    """What :func:`build_dataset` did.

    Attributes:
        root: The dataset folder.
        info: The contents of its ``dataset.json``.
        processed: Source images processed in this run.
        reused: Source images whose samples an interrupted run had already written.
        duplicates: Source images skipped because an earlier one had the same id (``dataset.json``'s
            ``skipped`` names both).
        up_to_date: The folder already held this exact dataset; nothing was done.
    """

    root: Path
    info: dict[str, Any]
    processed: int = 0
    reused: int = 0
    duplicates: int = 0
    up_to_date: bool = False


def _items(source: Source, limit: int | None) -> Iterator[SourceItem]:
    items: Iterable[SourceItem] = source.items()
    return iter(itertools.islice(items, limit) if limit is not None else items)


def build_dataset(
    recipe: Recipe,
    out: str | Path,
    *,
    source: str | None = None,
    limit: int | None = None,
    split: str | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    shard_size: int | None = None,
    layout: str = LAYOUTS[0],
    shard_mb: int | None = None,
    progress: Progress = silent,
) -> BuildResult:
    """Build (or resume, or confirm) the dataset ``recipe`` makes from ``source``.

    Args:
        recipe: A validated recipe.
        out: The dataset folder to write.
        source: Source spec overriding the recipe's default (``folder:PATH``, ...).
        limit: Use only the first ``limit`` source images.
        split: Put every source image into this split (``train``, ``val`` or ``test``)
            instead of dividing them by the recipe's fractions.
        workers: Worker processes (default: all cores); the output does not depend on it. With
            ``engine="ray"`` and no address: the CPUs of the local Ray instance.
        overwrite: Replace a different dataset already in ``out``.
        engine: Where the per-image work runs: ``local`` (this machine) or ``ray``; the output does not
            depend on it (see ``docs/scale-out.md``).
        ray_address: The Ray cluster to join (default: ``$RAY_ADDRESS``, else a local Ray instance).
        shard_size: Source images per Ray task (default 64).
        layout: ``imagefolder`` (a PNG file per image, a ``metadata.csv`` per split) or ``parquet``
            (Parquet shards per split); the fingerprint is the same (see ``docs/dataset-format.md``).
        shard_mb: ``parquet`` only: megabytes of images per shard at most (default 500).
        progress: Told, in phase ``"source images"``, how many source images are done
            (reused ones included) out of how many.

    Returns:
        A :class:`BuildResult`; ``info`` is the written ``dataset.json``.

    Raises:
        DatasetError: ``out`` cannot be used (see ``--overwrite``), another build holds it, a bad
            ``limit``, ``split``, ``workers``, ``engine``, ``layout`` or ``shard_mb``, or the Ray cluster
            cannot be reached.
        SourceError: The source cannot be opened or listed.
        MissingExtraError: ``engine="ray"`` without ray installed.
    """
    out = Path(out)
    workers = _check_options(limit, split, workers)
    shard_mb = _check_layout(layout, shard_mb)
    runner = make_engine(engine, workers, address=ray_address, shard_size=shard_size)
    spec = source or recipe.source
    src = open_source(spec)
    key = build_key(recipe, spec, limit, split, layout, shard_mb)
    with build_lock(out):  # a second build into the same folder is refused, not interleaved
        return _build_locked(recipe, out, src, key, runner, overwrite, progress)


def _check_options(limit: int | None, split: str | None, workers: int | None) -> int:
    """Check ``--limit``, ``--split`` and ``--workers``; the number of workers."""
    if limit is not None and limit < 1:
        raise DatasetError(f"--limit: expected a positive number of images, got {limit}")
    if split is not None and split not in SPLITS:
        raise DatasetError(f"--split: expected one of {', '.join(SPLITS)}, got {split!r}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise DatasetError(f"--workers: expected 1 or more, got {workers}")
    return workers


def _check_layout(layout: str, shard_mb: int | None) -> int | None:
    """The shard size a layout uses (``None`` for imagefolder), after checking both options."""
    if layout not in LAYOUTS:
        raise DatasetError(f"--format: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == LAYOUTS[0]:
        if shard_mb is not None:
            raise DatasetError("--parquet-shard-mb needs --format parquet")
        return None
    if shard_mb is not None and shard_mb < 1:
        raise DatasetError(f"--parquet-shard-mb: expected 1 or more megabytes, got {shard_mb}")
    return shard_mb or DEFAULT_SHARD_MB


def _build_locked(
    recipe: Recipe,
    out: Path,
    src: Source,
    key: dict[str, Any],
    engine: Engine,
    overwrite: bool,
    progress: Progress,
) -> BuildResult:
    mode = prepare_out(out, key, overwrite)
    if mode == "complete":
        info = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
        return BuildResult(out, info, up_to_date=True)
    state = start_state(out, key)
    limit = key["limit"]
    total = _count(src, limit)
    progress(PHASE, 0, total)
    names: list[Entry] = []
    first: dict[str, str | None] = {}  # record name -> where the image with that id came from (None: the id says)
    counts = {"reused": 0, "processed": 0, "duplicates": 0}

    def todo() -> Iterator[SourceItem]:
        for item in _items(src, limit):
            name, where = record_name(item.source_id), _where(item)
            if name in first:  # a second image with an id already seen would overwrite the first's files
                names.append({"source_id": item.source_id, "reason": _duplicate_reason(where, first[name])})
                counts["duplicates"] += 1
            elif (state / "done" / name).is_file():
                first[name] = where
                names.append(name)
                counts["reused"] += 1
            else:
                first[name] = where
                names.append(name)
                yield item
                continue
            progress(PHASE, sum(counts.values()), total)

    work = functools.partial(
        process_item, recipe=recipe, out=out, split=key["split"], layout=key.get("format", LAYOUTS[0])
    )
    results = engine.map(work, todo())
    try:
        for _ in results:
            counts["processed"] += 1
            progress(PHASE, sum(counts.values()), total)
    finally:
        results.close()  # stops the engine's workers if the loop ended early
    info = assemble(out, recipe, src, key, names)
    return BuildResult(out, info, **counts)


def _where(item: SourceItem) -> str | None:
    """The URL of an image listed by URL under another id, for messages (``None`` where the id says it all).

    Only URL lists can give two images one id (a folder's paths and a dataset's rows cannot).
    """
    if item.url is None or item.url == item.source_id:
        return None
    return show_url(item.url)


def _duplicate_reason(where: str | None, earlier: str | None) -> str:
    """Why an image whose id an earlier image already had is skipped, naming both where they differ."""
    if where == earlier:
        return "duplicate id: listed again; only its first entry is built"
    return f"duplicate id: {where or 'this entry'} has the same id as {earlier or 'an earlier entry'}, which is built"


def _count(src: Source, limit: int | None) -> int | None:
    """The number of images, where listing is cheap (not for streamed hub datasets)."""
    if src.spec.startswith("hf:"):
        return limit
    return sum(1 for _ in _items(src, limit))
