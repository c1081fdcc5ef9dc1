"""recipe x source -> dataset folder: parallel, resumable, byte-deterministic.

Each source image is one unit of work. A worker decodes it, derives every sample's
RNG from the recipe seed, the image's pixel hash and the crop index (never from
processing order), writes the sample files atomically, and finally writes a small
*done record* under ``OUT/.pixbench-build/done/``. A rerun after an interruption
skips every image that has a record. When all images are done, the main process
streams the records in source order into the per-split ``metadata.csv`` (and the
BlockCNN arrays), computes the fingerprint, writes ``README.md`` and, last,
``dataset.json``; then it removes the working folder. Memory stays flat: pixels
live only inside one worker's unit of work.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import PIL
from PIL import features

from pixbench import __version__
from pixbench.datasets import BUILD_STATE_DIR, FORMAT_NAME, FORMAT_VERSION, SPLITS
from pixbench.degradations.jpeg import encoder_name
from pixbench.degradations.tasks import make_sample, min_side
from pixbench.errors import DatasetError, ImageDecodeError, SourceError
from pixbench.images import pixel_sha256, write_bytes_atomic, write_png
from pixbench.recipes import Recipe, Splits
from pixbench.sources import SourceItem, file_sha256, load_pixels, open_source


class ProgressHook(Protocol):
    """What the builder reports while it runs (the CLI draws a rich progress bar)."""

    def start(self, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...


@dataclass
class BuildResult:
    """What :func:`build_dataset` did.

    Attributes:
        root: The dataset folder.
        info: The contents of its ``dataset.json``.
        processed: Source images processed in this run.
        reused: Source images whose samples an interrupted run had already written.
        up_to_date: The folder already held this exact dataset; nothing was done.
    """

    root: Path
    info: dict[str, Any]
    processed: int = 0
    reused: int = 0
    up_to_date: bool = False


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


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def record_name(source_id: str) -> str:
    """File name of a source image's done record."""
    return hashlib.sha256(source_id.encode()).hexdigest()[:32] + ".json"


# ---------------------------------------------------------------- worker side

def process_item(item: SourceItem, recipe: Recipe, out: Path, *, split: str | None = None) -> dict[str, Any]:
    """Make and write every sample of one source image, then its done record.

    Unusable inputs (undecodable, too small, failed download or hash) become a
    ``skipped`` record with a one-line reason; they never raise.

    Args:
        item: The source image.
        recipe: A validated recipe.
        out: The dataset folder.
        split: Put the image into this split instead of the one its hash picks.
    """
    state = out / BUILD_STATE_DIR
    record: dict[str, Any] = {"source_id": item.source_id}
    try:
        pixels = load_pixels(item)
    except (ImageDecodeError, SourceError) as exc:
        reason = str(exc).replace(item.path, item.source_id) if item.path else str(exc)
        record.update(status="skipped", reason=reason)
        return write_record(state, record_name(item.source_id), record)
    h, w = pixels.shape[:2]
    need = min_side(recipe)
    if min(h, w) < need:
        record.update(status="skipped", reason=f"smaller than the crop: {w}x{h}, the recipe needs at least {need}x{need}")
        return write_record(state, record_name(item.source_id), record)
    sha = pixel_sha256(pixels)
    split = split or assign_split(sha, recipe.splits)
    rows, trip_x, trip_y, trip_rows = [], [], [], []
    for index in range(recipe.crop.per_image):
        seed = sample_seed(recipe.seed, sha, index)
        sample = make_sample(pixels, recipe, np.random.default_rng(seed), index)
        sample_id = f"{sha[:16]}-{index:04d}"
        row: dict[str, Any] = {"sample_id": sample_id, "source_id": item.source_id, "source_sha256": sha,
                               "seed": seed, "params": sample.params}
        for kind in ("input", "target", "lowres", "mask"):
            array = getattr(sample, kind)
            if array is not None:
                rel = f"{kind}/{sample_id}.png"
                write_png(out / split / rel, array)
                row[f"{kind}_file_name"] = rel
        if sample.triplets is not None:
            xs, ys, positions = sample.triplets
            trip_x.append(xs)
            trip_y.append(ys)
            trip_rows += [{"sample_id": sample_id, "source_id": item.source_id, "block_x": bx, "block_y": by,
                           "quality": sample.params["quality"]} for bx, by in positions]
        rows.append(row)
    record.update(status="ok", source_sha256=sha, split=split, width=w, height=h, rows=rows)
    if trip_rows:
        record["triplets"] = trip_rows
        arrays = (np.concatenate(trip_x), np.concatenate(trip_y))
        return write_record(state, record_name(item.source_id), record, arrays=arrays)
    return write_record(state, record_name(item.source_id), record)


_WORKER: dict[str, Any] = {}


def _init_worker(recipe: Recipe, out: str, split: str | None) -> None:
    _WORKER.update(recipe=recipe, out=Path(out), split=split)


def _work(item: SourceItem) -> dict[str, Any]:
    return process_item(item, _WORKER["recipe"], _WORKER["out"], split=_WORKER["split"])


# ---------------------------------------------------------------- main side

def _build_key(recipe: Recipe, spec: str, limit: int | None, split: str | None) -> dict[str, Any]:
    """What makes two builds the same build (``dataset.json`` ``build``; ``split`` None: by fractions)."""
    return {"recipe": recipe.label, "recipe_sha256": recipe.sha256(), "source": spec, "limit": limit, "split": split}


def _prepare_out(out: Path, key: dict[str, Any], overwrite: bool) -> str:
    """Decide what to do with ``out``: ``"fresh"``, ``"resume"`` or ``"complete"``.

    Raises:
        DatasetError: ``out`` holds another dataset (and no ``--overwrite``), or is a
            non-empty folder pixbench did not write (never deleted, even with ``--overwrite``).
    """
    if out.exists() and not out.is_dir():
        raise DatasetError(f"-o {out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return "fresh"
    info_path, state = out / "dataset.json", out / BUILD_STATE_DIR
    ours = info_path.is_file() or state.is_dir()
    if not ours:
        raise DatasetError(f"-o {out}: folder is not empty and is not a pixbench dataset; "
                           "choose a new or empty folder (pixbench never deletes folders it did not write)")
    if state.is_dir() and not (state / "build.json").is_file() and not info_path.is_file():
        # killed before the build wrote anything but its working folder
        shutil.rmtree(state)
        return _prepare_out(out, key, overwrite)
    old = None
    try:
        if (state / "build.json").is_file():
            old = json.loads((state / "build.json").read_text(encoding="utf-8"))
        elif info_path.is_file():
            info = json.loads(info_path.read_text(encoding="utf-8"))
            old = info.get("build") if isinstance(info, dict) and info.get("format") == FORMAT_NAME else None
    except (OSError, json.JSONDecodeError):
        old = None  # unreadable: treated as a different dataset
    if isinstance(old, dict):
        old = {"split": None, **old}  # keys written before --split existed meant "by fractions"
    if old == key and not overwrite:
        return "resume" if state.is_dir() else "complete"
    if not overwrite:
        what = (f"recipe {old.get('recipe')} from source {old.get('source')!r}, limit {old.get('limit')}, "
                f"split {old.get('split') or 'by fractions'}" if isinstance(old, dict) else "an unknown build")
        raise DatasetError(f"-o {out}: already holds a different dataset ({what}); "
                           "pass --overwrite to replace it or choose another folder")
    shutil.rmtree(out)
    return "fresh"


def _items(source: Any, limit: int | None) -> Iterator[SourceItem]:
    items: Iterable[SourceItem] = source.items()
    return iter(itertools.islice(items, limit) if limit is not None else items)


def build_dataset(recipe: Recipe, out: str | Path, *, source: str | None = None, limit: int | None = None,
                  split: str | None = None, workers: int | None = None, overwrite: bool = False,
                  progress: ProgressHook | None = None) -> BuildResult:
    """Build (or resume, or confirm) the dataset ``recipe`` makes from ``source``.

    Args:
        recipe: A validated recipe.
        out: The dataset folder to write.
        source: Source spec overriding the recipe's default (``folder:PATH``, ...).
        limit: Use only the first ``limit`` source images.
        split: Put every source image into this split (``train``, ``val`` or ``test``)
            instead of dividing them by the recipe's fractions.
        workers: Worker processes (default: all cores); the output does not depend on it.
        overwrite: Replace a different dataset already in ``out``.
        progress: Receives the number of source images and one ``advance`` per image.

    Returns:
        A :class:`BuildResult`; ``info`` is the written ``dataset.json``.

    Raises:
        DatasetError: ``out`` cannot be used (see ``--overwrite``), or a bad
            ``limit``, ``split`` or ``workers``.
        SourceError: The source cannot be opened or listed.
    """
    out = Path(out)
    if limit is not None and limit < 1:
        raise DatasetError(f"--limit: expected a positive number of images, got {limit}")
    if split is not None and split not in SPLITS:
        raise DatasetError(f"--split: expected one of {', '.join(SPLITS)}, got {split!r}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise DatasetError(f"--workers: expected 1 or more, got {workers}")
    spec = source or recipe.source
    src = open_source(spec)
    key = _build_key(recipe, spec, limit, split)
    mode = _prepare_out(out, key, overwrite)
    if mode == "complete":
        info = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
        return BuildResult(out, info, up_to_date=True)
    state = out / BUILD_STATE_DIR
    write_bytes_atomic(state / "build.json", json.dumps(key, sort_keys=True).encode())
    (state / "done").mkdir(exist_ok=True)
    total = _count(src, limit)
    if progress is not None:
        progress.start(total)
    names: list[str] = []
    reused = 0

    def todo() -> Iterator[SourceItem]:
        nonlocal reused
        for item in _items(src, limit):
            names.append(record_name(item.source_id))
            if (state / "done" / names[-1]).is_file():
                reused += 1
                if progress is not None:
                    progress.advance()
            else:
                yield item

    if workers == 1:
        processed = 0
        for item in todo():
            process_item(item, recipe, out, split=split)
            processed += 1
            if progress is not None:
                progress.advance()
    else:
        processed = _run_pool(todo(), recipe, out, workers, progress, split)
    info = _assemble(out, recipe, src, key, names)
    return BuildResult(out, info, processed=processed, reused=reused)


def _count(src: Any, limit: int | None) -> int | None:
    """The number of images, where listing is cheap (not for streamed hub datasets)."""
    if src.spec.startswith("hf:"):
        return limit
    return sum(1 for _ in _items(src, limit))


def _run_pool(items: Iterator[SourceItem], recipe: Recipe, out: Path, workers: int,
              progress: ProgressHook | None, split: str | None) -> int:
    """Process ``items`` on ``workers`` processes, at most ``2 * workers`` in flight."""
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    done_count = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(recipe, str(out), split)) as pool:
        pending: set[Future] = set()
        queue = iter(items)
        try:
            while True:
                while len(pending) < 2 * workers:
                    item = next(queue, None)
                    if item is None:
                        break
                    pending.add(pool.submit(_work, item))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # a bug in a worker surfaces here
                    done_count += 1
                    if progress is not None:
                        progress.advance()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return done_count


# ---------------------------------------------------------------- records and assembly

#: Flat metadata columns per task (beside the always-present ones), for breakdowns.
TASK_COLUMNS: dict[str, list[str]] = {
    "detect": ["label", "factor", "down_kernel", "up_kernel", "negative_kind", "quality"],
    "depixelate": ["factor", "down_kernel", "up_kernel"],
    "jpeg": ["quality"],
    "blockcnn": ["quality"],
    "inpaint": ["holes"],
}
#: Image columns per task, written as ``<kind>_file_name``.
TASK_FILES: dict[str, list[str]] = {
    "detect": ["input"], "depixelate": ["input", "target", "lowres"], "jpeg": ["input", "target"],
    "blockcnn": ["input", "target"], "inpaint": ["input", "target", "mask"],
}
#: What ``input`` holds, per task (``dataset.json`` key ``inputs``).
TASK_INPUTS: dict[str, str] = {
    "detect": "crop, pixelated where label=1", "depixelate": "pixelated", "jpeg": "jpeg-decoded",
    "blockcnn": "jpeg-decoded", "inpaint": "holed",
}
TRIPLET_COLUMNS = ["triplet_id", "sample_id", "source_id", "block_x", "block_y", "quality"]


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def write_record(state: Path, name: str, record: dict[str, Any],
                 arrays: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Write a source image's done record (and its triplet arrays first), atomically.

    Returns:
        A small summary for the caller (the full record stays on disk).
    """
    if arrays is not None:
        stem = name.removesuffix(".json")
        write_bytes_atomic(state / "triplets" / f"{stem}.x.npy", _npy_bytes(arrays[0]))
        write_bytes_atomic(state / "triplets" / f"{stem}.y.npy", _npy_bytes(arrays[1]))
    write_bytes_atomic(state / "done" / name, json.dumps(record, sort_keys=True).encode())
    return {"source_id": record["source_id"], "status": record["status"]}


def _header(task: str) -> list[str]:
    return (["sample_id"] + [f"{k}_file_name" for k in TASK_FILES[task]] + ["source_id", "source_sha256", "seed"]
            + TASK_COLUMNS[task] + ["crop_x", "crop_y", "crop_w", "crop_h", "params"])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def _flat(row: dict[str, Any], header: list[str]) -> list[Any]:
    params = row["params"]
    merged = {**params, **{k: v for k, v in row.items() if k != "params"}}
    merged["params"] = params
    return [_cell(merged.get(col)) for col in header]


def _assemble(out: Path, recipe: Recipe, src: Any, key: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Stream the done records, in source order, into the finished dataset folder."""
    state = out / BUILD_STATE_DIR
    header = _header(recipe.task)
    counts = {s: {"samples": 0, "source_images": 0} for s in SPLITS}
    skipped: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    included: list[tuple[str, str]] = []
    files: dict[str, Any] = {}
    writers: dict[str, Any] = {}
    try:
        for name in names:
            rec = json.loads((state / "done" / name).read_text(encoding="utf-8"))
            if rec["status"] != "ok":
                skipped.append({"source_id": rec["source_id"], "reason": rec["reason"]})
                continue
            sha, split = rec["source_sha256"], rec["split"]
            if sha in seen:
                skipped.append({"source_id": rec["source_id"], "reason": f"duplicate: same pixels as {seen[sha]}"})
                continue
            seen[sha] = rec["source_id"]
            included.append((name, split))
            if split not in writers:
                files[split] = open(state / f"metadata-{split}.csv", "w", encoding="utf-8", newline="")
                writers[split] = csv.writer(files[split], lineterminator="\n")
                writers[split].writerow(header)
            for row in rec["rows"]:
                writers[split].writerow(_flat(row, header))
            counts[split]["samples"] += len(rec["rows"])
            counts[split]["source_images"] += 1
    finally:
        for fh in files.values():
            fh.close()
    for split in files:
        os.replace(state / f"metadata-{split}.csv", out / split / "metadata.csv")
    triplet_counts = _write_triplets(out, included) if recipe.task == "blockcnn" else None
    _remove_temp_files(out)
    fingerprint = dataset_fingerprint(out, recipe.sha256(), split=key["split"])
    info = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "task": recipe.task,
        "recipe": {"name": recipe.name, "version": recipe.version, "sha256": recipe.sha256()},
        "fingerprint": fingerprint, "pixbench_version": __version__,
        "source": {"spec": src.spec, "name": src.name, "license": src.license, "images": len(names)},
        "seed": recipe.seed, "splits": {s: c for s, c in counts.items() if c["samples"]},
        "skipped": skipped, "inputs": TASK_INPUTS[recipe.task],
        "encoders": {"jpeg": encoder_name(), "png": f"Pillow {PIL.__version__} / zlib {features.version('zlib')}"},
        "build": key,
    }
    if triplet_counts is not None:
        info["triplets"] = triplet_counts
    write_bytes_atomic(out / "recipe.yaml", recipe.canonical_yaml().encode())
    write_bytes_atomic(out / "README.md", dataset_card(info, recipe).encode())
    write_bytes_atomic(out / "dataset.json", (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())
    shutil.rmtree(state)  # after dataset.json: a kill in between still reads as half-built
    return info


def _write_triplets(out: Path, included: list[tuple[str, str]]) -> dict[str, int]:
    """Concatenate the per-image triplet arrays into each split's two ``.npy`` files, chunk by chunk."""
    state = out / BUILD_STATE_DIR
    totals: dict[str, int] = {}
    for split in SPLITS:
        parts = [name.removesuffix(".json") for name, s in included if s == split]
        if not parts:
            continue
        def records() -> Iterator[dict[str, Any]]:
            for p in parts:
                yield json.loads((state / "done" / f"{p}.json").read_text(encoding="utf-8"))

        n = sum(len(r.get("triplets", [])) for r in records())
        for suffix, shape, final in (("x", (24, 24, 3), "triplets_input.npy"), ("y", (8, 8, 3), "triplets_target.npy")):
            tmp = state / f"{split}-{final}"
            if n == 0:
                tmp.write_bytes(_npy_bytes(np.zeros((0, *shape), np.uint8)))
            else:
                dest = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, *shape))
                at = 0
                for p in parts:
                    path = state / "triplets" / f"{p}.{suffix}.npy"
                    if path.is_file():
                        chunk = np.load(path)
                        dest[at:at + len(chunk)] = chunk
                        at += len(chunk)
                dest.flush()
                del dest
            os.replace(tmp, out / split / final)
        with open(state / f"{split}-triplets.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(TRIPLET_COLUMNS)
            tid = 0
            for rec in records():
                for t in rec.get("triplets", []):
                    writer.writerow([tid] + [t[c] for c in TRIPLET_COLUMNS[1:]])
                    tid += 1
        os.replace(state / f"{split}-triplets.csv", out / split / "triplets.csv")
        totals[split] = n
    return totals


def _remove_temp_files(out: Path) -> None:
    """Delete temporary files an interrupted atomic write left behind."""
    for split in SPLITS:
        if (out / split).is_dir():
            for path in (out / split).rglob(".*.tmp"):
                path.unlink(missing_ok=True)


def dataset_fingerprint(root: Path, recipe_sha256: str, *, split: str | None = None) -> str:
    """``sha256:<hex>`` over the recipe hash, the split override and every split file's path and SHA-256, sorted.

    The ``split`` line is only hashed when a split was forced, so builds by fractions keep
    the fingerprints they always had.
    """
    digest = hashlib.sha256(f"recipe {recipe_sha256}\n".encode())
    if split is not None:
        digest.update(f"split {split}\n".encode())
    paths = sorted((p.relative_to(root).as_posix(), p) for s in SPLITS if (root / s).is_dir()
                   for p in (root / s).rglob("*") if p.is_file())
    for rel, path in paths:
        digest.update(f"{rel} {file_sha256(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def dataset_card(info: dict[str, Any], recipe: Recipe) -> str:
    """The ``README.md`` of a dataset folder."""
    build = info["build"]
    command = f"pixbench build-dataset {recipe.name} --source {build['source']}"
    command += f" --limit {build['limit']}" if build["limit"] else ""
    forced = build.get("split")
    command += f" --split {forced}" if forced else ""
    placement = (f"Every source image is in split `{forced}` (`--split {forced}`), not divided by the recipe's fractions."
                 if forced else "Source images are divided among the splits by the recipe's fractions, by pixel hash.")
    lines = [
        f"# {recipe.name} (recipe version {recipe.version})", "", recipe.description or "", "",
        f"Task `{info['task']}`; `input` holds: {info['inputs']}. Built by pixbench {info['pixbench_version']} with:",
        "", f"    {command}", "",
        f"Fingerprint `{info['fingerprint']}` (equal fingerprints mean byte-identical datasets).", "",
        placement, "",
        "| split | samples | source images |", "| --- | --- | --- |",
        *[f"| {s} | {c['samples']} | {c['source_images']} |" for s, c in info["splits"].items()], "",
        "## Source and licence", "",
        f"- Source: `{info['source']['spec']}` ({info['source']['images']} images listed)",
        f"- Terms: {info['source']['license']}", "",
        "## Encoders", "", f"- JPEG: {info['encoders']['jpeg']}", f"- PNG: {info['encoders']['png']}", "",
    ]
    if info["task"] == "inpaint":
        lines += [f"Holes are filled with the value {recipe.degradations[0].fill} in every channel; "
                  "`mask/` is 255 inside a hole, 0 elsewhere; `holes` lists `[x, y, w, h]`.", ""]
    if info["skipped"]:
        lines += ["## Skipped inputs", ""] + [f"- `{s['source_id']}`: {s['reason']}" for s in info["skipped"]] + [""]
    lines += ["## Loading", "", "```python", "from pixbench.datasets import open_dataset",
              "ds = open_dataset('.')            # arrays, validated", "from datasets import load_dataset",
              "hf = load_dataset('imagefolder', data_dir='.')  # image columns: input, target, ...", "```", ""]
    return "\n".join(lines)
