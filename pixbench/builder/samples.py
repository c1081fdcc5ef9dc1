"""One source image -> its samples: the seeds, the split, the task's sample maker, and the files.

How a sample is made from a clean image is the task's (:meth:`pixbench.tasks.Task.make_sample`,
one module per task in ``pixbench/tasks/``): a pure function of ``(image, recipe, rng, index)``
whose order of RNG draws is part of a recipe version's byte-for-byte contract.
:func:`process_item` is the unit of work an engine runs: it derives every sample's RNG
from the recipe seed, the image's pixel hash and the crop index (never from processing
order), writes the sample files and, last, the image's done record. For the Parquet layout the
sample files of one image go into one *blob* in the working folder instead (the record says where
each file's bytes are in it); the driver packs the blobs into shards when every image is done.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.builder.output import blob_path, record_name, write_record
from pixbench.datasets import BUILD_STATE_DIR, LAYOUTS
from pixbench.errors import ImageDecodeError, SourceError
from pixbench.images import encode_png, pixel_sha256, write_bytes_atomic, write_png
from pixbench.recipes import Recipe, Splits
from pixbench.sources import SourceItem, load_pixels
from pixbench.sources.download import show_url
from pixbench.tasks import TaskSample, get_task

__all__ = ["TaskSample", "assign_split", "make_sample", "min_side", "process_item", "sample_seed"]


def min_side(recipe: Recipe) -> int:
    """The smallest source side the recipe can make its samples from (the task decides)."""
    return get_task(recipe.task).min_side(recipe)


def make_sample(image: np.ndarray, recipe: Recipe, rng: np.random.Generator, index: int) -> TaskSample:
    """Make crop number ``index`` of ``image`` for the recipe's task, drawing from ``rng``."""
    return get_task(recipe.task).make_sample(image, recipe, rng, index)


def assign_split(source_sha256: str, splits: Splits) -> str:
    """The split of a source image, from its pixel hash alone.

    Only the image's own hash decides, so adding images to a source never moves
    others, and the same photo lands in the same split in every recipe with the
    same fractions (no leakage between datasets built from one source).
    """
    u = int(hashlib.sha256(f"pixbench-split:{source_sha256}".encode()).hexdigest()[:16], 16) / 2**64
    if u < splits.train:
        return "train"
    return "val" if u < splits.train + splits.val else "test"


def sample_seed(recipe_seed: int, source_sha256: str, index: int) -> int:
    """The seed of crop ``index`` of one source image (63 bits, so it fits an int64 column)."""
    digest = hashlib.sha256(f"pixbench-sample:{recipe_seed}:{source_sha256}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _skip(state: Path, item: SourceItem, reason: str) -> dict[str, Any]:
    """Write the ``skipped`` done record of an image that cannot be used, with its one-line reason.

    The reason names the image once: the message's own leading ``<source id>: `` (for a URL, as messages
    show it) is dropped, since every report of a skip (the summary, the card) puts the source id before it.
    """
    for named in (item.source_id, show_url(item.url) if item.url == item.source_id else None):
        if named is not None:
            reason = reason.removeprefix(f"{named}: ")
    return write_record(
        state, record_name(item.source_id), {"source_id": item.source_id, "status": "skipped", "reason": reason}
    )


def _write_sample(
    sample: TaskSample, files: tuple[str, ...], sample_dir: Path, row: dict[str, Any], blob: list[bytes] | None
) -> None:
    """Write the sample's image files (``<kind>/<sample_id>.png``) and name each in ``row``.

    With a ``blob`` (Parquet layout), each file's bytes are appended to it instead of written.
    """
    for kind in files:
        array = getattr(sample, kind)
        if array is not None:
            rel = f"{kind}/{row['sample_id']}.png"
            if blob is None:
                write_png(sample_dir / rel, array)
            else:
                blob.append(encode_png(array))
            row[f"{kind}_file_name"] = rel


def _triplet_rows(positions: list[tuple[int, int]], row: dict[str, Any], quality: int) -> list[dict[str, Any]]:
    """The ``triplets.csv`` rows of one sample's triplets, cut at the blocks ``positions``."""
    keys = {"sample_id": row["sample_id"], "source_id": row["source_id"]}
    return [{**keys, "block_x": bx, "block_y": by, "quality": quality} for bx, by in positions]


def process_item(
    item: SourceItem, recipe: Recipe, out: Path, *, split: str | None = None, layout: str = LAYOUTS[0]
) -> dict[str, Any]:
    """Make and write every sample of one source image, then its done record.

    Unusable inputs (undecodable, too small, failed download or hash) become a
    ``skipped`` record with a one-line reason; they never raise.

    Args:
        item: The source image.
        recipe: A validated recipe.
        out: The dataset folder.
        split: Put the image into this split instead of the one its hash picks.
        layout: ``imagefolder`` writes each sample file into its split folder; ``parquet`` writes the
            image's files as one blob into the working folder, for the driver to pack into shards.

    Returns:
        A small summary of the record (see :func:`pixbench.builder.output.write_record`).
    """
    state = out / BUILD_STATE_DIR
    try:
        pixels = load_pixels(item)
    except (ImageDecodeError, SourceError) as exc:
        return _skip(state, item, str(exc).replace(item.path, item.source_id) if item.path else str(exc))
    h, w = pixels.shape[:2]
    need = min_side(recipe)
    if min(h, w) < need:
        what = "the crop" if recipe.crop is not None else "the task's smallest image"
        return _skip(state, item, f"smaller than {what}: {w}x{h}, the recipe needs at least {need}x{need}")
    task = get_task(recipe.task)
    sha = pixel_sha256(pixels)
    split = split or assign_split(sha, recipe.splits)
    rows, triplets, trip_rows = [], [], []
    blob: list[bytes] | None = None if layout == LAYOUTS[0] else []
    for index in range(task.samples_per_image(recipe)):
        seed = sample_seed(recipe.seed, sha, index)
        sample = task.make_sample(pixels, recipe, np.random.default_rng(seed), index)
        row: dict[str, Any] = {
            "sample_id": f"{sha[:16]}-{index:04d}",
            "source_id": item.source_id,
            "source_sha256": sha,
            "seed": seed,
            "params": sample.params,
        }
        _write_sample(sample, task.files, out / split, row, blob)
        rows.append(row)
        if sample.triplets is not None:
            triplets.append(sample.triplets)
            trip_rows += _triplet_rows(sample.triplets[2], row, sample.params["quality"])
    record = {"source_id": item.source_id, "status": "ok", "source_sha256": sha, "split": split}
    record.update(width=w, height=h, rows=rows)
    if blob is not None:  # the files' bytes, in row and kind order: the record's rows say which is which
        record["blob"] = [len(part) for part in blob]
        write_bytes_atomic(blob_path(state, record_name(item.source_id)), b"".join(blob))
    if trip_rows:
        record["triplets"] = trip_rows
        arrays = (np.concatenate([t[0] for t in triplets]), np.concatenate([t[1] for t in triplets]))
        return write_record(state, record_name(item.source_id), record, arrays=arrays)
    return write_record(state, record_name(item.source_id), record)
