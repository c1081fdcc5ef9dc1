"""Assembling a finished dataset folder from the done records: metadata, triplets, card, manifest.

When every source image is done, the main process streams the records in source
order into the per-split ``metadata.csv`` (or, for the Parquet layout, into the shards:
:mod:`pixbench.builder.parquet`) and the BlockCNN arrays, computes the
fingerprint from the manifest (every split file's SHA-256, recorded in
``dataset.json``), writes ``README.md`` and, last, ``dataset.json``; then it removes the
working folder. Memory stays flat: records are read one at a time and the triplet
arrays are copied chunk by chunk into memory-mapped files.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import pyarrow as pa
from PIL import features

from pixbench import __version__
from pixbench.builder.output import clear_state, npy_bytes, read_record, remove_temp_files, state_dir
from pixbench.builder.parquet import DEFAULT_SHARD_MB, ShardPlan, row_values, write_shards
from pixbench.dataset_shards import (
    PARQUET_FORMAT_VERSION,
    SHARDS_KEY,
    csv_writer,
    is_shard_name,
    write_csv_row,
)
from pixbench.datasets import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LAYOUTS,
    MANIFEST_KEY,
    SPLITS,
    fingerprint_of,
    split_file_hashes,
)
from pixbench.degradations.blocks import BLOCK, CONTEXT
from pixbench.degradations.jpeg import encoder_name
from pixbench.images import atomic_output, write_bytes_atomic
from pixbench.recipes import Recipe
from pixbench.sources import Source
from pixbench.tasks import get_task

TRIPLET_COLUMNS = ["triplet_id", "sample_id", "source_id", "block_x", "block_y", "quality"]


def metadata_header(task: str) -> list[str]:
    """The columns of a ``metadata.csv`` of ``task``, in order."""
    spec = get_task(task)
    return (
        ["sample_id"]
        + [f"{k}_file_name" for k in spec.files]
        + ["source_id", "source_sha256", "seed"]
        + list(spec.metadata)
        + ["crop_x", "crop_y", "crop_w", "crop_h", "params"]
    )


#: An entry of the source-order list :func:`assemble` reads: a done record's name, or a skip the driver decided.
Entry = str | dict[str, str]


def assemble(out: Path, recipe: Recipe, src: Source, key: dict[str, Any], names: list[Entry]) -> dict[str, Any]:
    """Stream the done records, in source order, into the finished dataset folder.

    Args:
        out: The dataset folder.
        recipe: The recipe being built.
        src: The opened source.
        key: The build key (see :func:`pixbench.builder.output.build_key`); its ``format`` is the layout.
        names: Every source image's done-record name, in source order; an image the driver skipped
            (a duplicate id) is its ``{"source_id", "reason"}`` instead.

    Returns:
        The written ``dataset.json``.
    """
    task = get_task(recipe.task)
    header = metadata_header(recipe.task)
    layout = key.get("format", LAYOUTS[0])
    parquet: dict[str, Any] = {}
    if layout == LAYOUTS[0]:
        counts, skipped, included = _write_metadata(out, names, header)
    else:
        plan = ShardPlan(header, key.get("shard_mb") or DEFAULT_SHARD_MB)
        counts, skipped, included = _scan(out, names, plan.add)
        parts, shards = write_shards(out, state_dir(out), included, plan)
        parquet = {"format_version": PARQUET_FORMAT_VERSION, "layout": layout, SHARDS_KEY: shards}
    triplet_counts = _write_triplets(out, included) if task.blockwise else None
    remove_temp_files(out)
    # the manifest, what evaluate and train verify every read against: the split files; for Parquet, the
    # files inside the shards in place of the shards
    files = split_file_hashes(out, skip=is_shard_name if parquet else None)
    if parquet:
        files.update(parts)
    info: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "task": recipe.task,
        "recipe": {"name": recipe.name, "version": recipe.version, "sha256": recipe.sha256()},
        "fingerprint": fingerprint_of(files, recipe.sha256(), split=key["split"]),
        "pixbench_version": __version__,
        "source": {"spec": src.spec, "name": src.name, "license": src.license, "images": len(names)},
        "seed": recipe.seed,
        "splits": {s: c for s, c in counts.items() if c["samples"]},
        "skipped": skipped,
        "inputs": task.inputs,
        "encoders": {"jpeg": encoder_name(), "png": f"Pillow {PIL.__version__} / zlib {features.version('zlib')}"},
        "build": key,
        MANIFEST_KEY: files,
    }
    if triplet_counts is not None:
        info["triplets"] = triplet_counts
    if parquet:
        info["encoders"]["parquet"] = f"pyarrow {pa.__version__}"
        info.update(parquet)
    write_bytes_atomic(out / "recipe.yaml", recipe.canonical_yaml().encode())
    write_bytes_atomic(out / "README.md", dataset_card(info, recipe).encode())
    write_bytes_atomic(out / "dataset.json", (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())
    clear_state(state_dir(out))  # after dataset.json: a kill in between still reads as half-built (the lock goes last)
    return info


Scan = tuple[dict[str, dict[str, int]], list[dict[str, str]], list[tuple[str, str]]]


def _scan(out: Path, names: list[Entry], visit: Any) -> Scan:
    """Read the done records in source order and call ``visit`` on each image included (duplicates and skips out).

    Returns:
        The samples and source images per split, the skipped inputs with their reasons, and the
        ``(record name, split)`` of every image included.
    """
    state = state_dir(out)
    counts = {s: {"samples": 0, "source_images": 0} for s in SPLITS}
    skipped: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    included: list[tuple[str, str]] = []
    for name in names:
        if isinstance(name, dict):
            skipped.append(name)
            continue
        rec = read_record(state, name)
        if rec["status"] != "ok":
            skipped.append({"source_id": rec["source_id"], "reason": rec["reason"]})
            continue
        sha, split = rec["source_sha256"], rec["split"]
        if sha in seen:
            skipped.append({"source_id": rec["source_id"], "reason": f"duplicate: same pixels as {seen[sha]}"})
            continue
        seen[sha] = rec["source_id"]
        included.append((name, split))
        visit(rec)
        counts[split]["samples"] += len(rec["rows"])
        counts[split]["source_images"] += 1
    return counts, skipped, included


def _write_metadata(out: Path, names: list[Entry], header: list[str]) -> Scan:
    """Each split's ``metadata.csv`` from the done records, in source order (see :func:`_scan`)."""
    writers: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:  # each split's metadata.csv appears only once complete

        def write(rec: dict[str, Any]) -> None:
            split = rec["split"]
            if split not in writers:
                tmp = stack.enter_context(atomic_output(out / split / "metadata.csv"))
                writers[split] = csv_writer(stack.enter_context(open(tmp, "w", encoding="utf-8", newline="")))
                writers[split].writerow(header)
            for row in rec["rows"]:
                write_csv_row(writers[split], row_values(row, header))

        return _scan(out, names, write)


def _write_triplets(out: Path, included: list[tuple[str, str]]) -> dict[str, int]:
    """Concatenate the per-image triplet arrays into each split's two ``.npy`` files, chunk by chunk."""
    state = state_dir(out)
    totals: dict[str, int] = {}
    for split in SPLITS:
        parts = [name.removesuffix(".json") for name, s in included if s == split]
        if not parts:
            continue

        def records(parts: list[str] = parts) -> Iterator[dict[str, Any]]:
            for p in parts:
                yield read_record(state, f"{p}.json")

        n = sum(len(r.get("triplets", [])) for r in records())
        for suffix, shape, final in (
            ("x", (CONTEXT, CONTEXT, 3), "triplets_input.npy"),
            ("y", (BLOCK, BLOCK, 3), "triplets_target.npy"),
        ):
            with atomic_output(out / split / final) as tmp:
                if n == 0:
                    tmp.write_bytes(npy_bytes(np.zeros((0, *shape), np.uint8)))
                else:
                    dest = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, *shape))
                    at = 0
                    for p in parts:
                        path = state / "triplets" / f"{p}.{suffix}.npy"
                        if path.is_file():
                            chunk = np.load(path)
                            dest[at : at + len(chunk)] = chunk
                            at += len(chunk)
                    dest.flush()
                    del dest
        with atomic_output(out / split / "triplets.csv") as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv_writer(fh)
            writer.writerow(TRIPLET_COLUMNS)
            tid = 0
            for rec in records():
                for t in rec.get("triplets", []):
                    writer.writerow([tid] + [t[c] for c in TRIPLET_COLUMNS[1:]])
                    tid += 1
        totals[split] = n
    return totals


def dataset_fingerprint(root: Path, recipe_sha256: str, *, split: str | None = None) -> str:
    """``sha256:<hex>`` over the recipe hash, the split override and every split file's path and SHA-256, sorted.

    The formula is :func:`pixbench.datasets.fingerprint_of`, applied to the files now in ``root``.
    """
    return fingerprint_of(split_file_hashes(root), recipe_sha256, split=split)


def dataset_card(info: dict[str, Any], recipe: Recipe) -> str:
    """The ``README.md`` of a dataset folder."""
    build = info["build"]
    command = f"pixbench build-dataset {recipe.name} --source {build['source']}"
    command += f" --limit {build['limit']}" if build["limit"] else ""
    forced = build.get("split")
    command += f" --split {forced}" if forced else ""
    parquet = info.get("layout") == LAYOUTS[1]
    if parquet:
        command += " --format parquet"
        command += f" --parquet-shard-mb {build['shard_mb']}" if build.get("shard_mb") != DEFAULT_SHARD_MB else ""
    placement = (
        f"Every source image is in split `{forced}` (`--split {forced}`), not divided by the recipe's fractions."
        if forced
        else "Source images are divided among the splits by the recipe's fractions, by pixel hash."
    )
    lines = [
        f"# {recipe.name} (recipe version {recipe.version})",
        "",
        recipe.description or "",
        "",
        f"Task `{info['task']}`; `input` holds: {info['inputs']}. Built by pixbench {info['pixbench_version']} with:",
        "",
        f"    {command}",
        "",
        f"Fingerprint `{info['fingerprint']}` (equal fingerprints mean byte-identical datasets).",
        "",
        placement,
        "",
        "| split | samples | source images |",
        "| --- | --- | --- |",
        *[f"| {s} | {c['samples']} | {c['source_images']} |" for s, c in info["splits"].items()],
        "",
        "## Source and licence",
        "",
        f"- Source: `{info['source']['spec']}` ({info['source']['images']} images listed)",
        f"- Terms: {info['source']['license']}",
        "",
        "## Encoders",
        "",
        f"- JPEG: {info['encoders']['jpeg']}",
        f"- PNG: {info['encoders']['png']}",
        "",
    ]
    lines += get_task(info["task"]).card_notes(recipe)
    if info["skipped"]:
        lines += ["## Skipped inputs", ""] + [f"- `{s['source_id']}`: {s['reason']}" for s in info["skipped"]] + [""]
    return "\n".join(lines + _loading(info, parquet))


def _loading(info: dict[str, Any], parquet: bool) -> list[str]:
    """The card's section on loading the dataset, with pixbench and with Hugging Face ``datasets``."""
    hf = "hf = load_dataset('imagefolder', data_dir='.')  # image columns: input, target, ..."
    if parquet:
        shards = ", ".join(f"'{s}': '{s}/*.parquet'" for s in info["splits"])
        hf = f"hf = load_dataset('parquet', data_files={{{shards}}})  # image columns: input, target, ..."
    return [
        "## Loading",
        "",
        "```python",
        "from pixbench.datasets import open_dataset",
        "ds = open_dataset('.')            # arrays, validated",
        "from datasets import load_dataset",
        hf,
        "```",
        "",
    ]
