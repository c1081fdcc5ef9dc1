"""Reading a dataset folder written by ``pixbench build-dataset``, verified as it is read.

This module is the contract between the builder and everything that reads its
output (``train``, ``evaluate``, the leaderboard checks). The on-disk format is
specified in ``docs/dataset-format.md``; what is verified, and when, in
``docs/integrity.md``. :func:`open_dataset` validates ``dataset.json`` at the door
and checks that its fingerprint follows from its file list (the *manifest*,
:mod:`pixbench.dataset_manifest`); every file read afterwards is hashed in the same
pass that reads its bytes and refused unless it matches the manifest, so nothing is
scored or trained on that is not the dataset the fingerprint names. Both layouts read
through the same API: files on disk (imagefolder) or Parquet shards
(:mod:`pixbench.dataset_shards`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixbench.dataset_manifest import (
    MANIFEST_KEY,
    SPLITS,
    check_info,
    fingerprint_of,
    split_file_hashes,
    verified_manifest,
)
from pixbench.dataset_shards import IMAGE_COLUMNS, LAYOUTS, PARQUET_FORMAT_VERSION, SHARDS_KEY, ShardReader, in_shards
from pixbench.degradations.blocks import BLOCK, CONTEXT, extract_triplets
from pixbench.errors import DatasetError, check_format
from pixbench.images import file_sha256, read_png
from pixbench.tasks import TASK_NAMES

FORMAT_NAME = "pixbench-dataset"
FORMAT_VERSION = 1
#: Folder that holds a build's working state; its presence means "half-built".
BUILD_STATE_DIR = ".pixbench-build"
_REBUILD = "the dataset was modified after it was built — rebuild it"


@contextlib.contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """A file that cannot be read is one line naming it."""
    try:
        yield
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}; {_REBUILD}") from None


def _differ(path: Path | str, recorded: str, found: str) -> DatasetError:
    return DatasetError(
        f"{path}: contents differ from the dataset's manifest (sha256 {found[:16]}..., "
        f"recorded {recorded[:16]}...); {_REBUILD}"
    )


@dataclass
class Sample:
    """One dataset sample as arrays.

    ``input`` is always present (``HxWx3 uint8``). ``target`` (``HxWx3``), ``lowres``
    (``hxwx3``, depixelate only), ``mask`` (``HxW bool``, True = hole, inpaint only)
    and ``label`` (0 clean / 1 degraded, detect only) are ``None`` where the task has none.
    ``meta`` is the sample's full row of ``metadata.csv``.
    """

    sample_id: str
    input: np.ndarray
    target: np.ndarray | None = None
    lowres: np.ndarray | None = None
    mask: np.ndarray | None = None
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class DatasetSplit:
    """One split (``train``, ``val`` or ``test``) of a built dataset; every file it reads is verified.

    ``files`` maps each of the split's files (relative to the split folder) to its SHA-256. ``shards``
    (Parquet layout only) maps each shard file to its entry; the sample images and ``metadata.csv`` are
    then read from the shards (:mod:`pixbench.dataset_shards`) and verified against ``files`` alike.
    """

    def __init__(
        self, root: Path, name: str, files: Mapping[str, str], shards: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.root = root
        self.name = name
        self.files = dict(files)
        self._shards = None if shards is None else ShardReader(root, shards)
        if "metadata.csv" not in self.files:
            raise DatasetError(f"{root}: split {name!r} has no metadata.csv in the dataset's manifest; {_REBUILD}")
        if not root.is_dir():
            raise DatasetError(
                f"{root}: split folder missing (the dataset's manifest lists {len(self.files)} files in it); {_REBUILD}"
            )
        for rel in sorted(self.files):  # every file of the split must be there before any is scored
            if (self._shards is None or not in_shards(rel)) and not (root / rel).is_file():
                raise DatasetError(f"{root / rel}: missing (listed in the dataset's manifest); {_REBUILD}")
        if self._shards is not None:
            self._shards.check()
        data = self.read_bytes("metadata.csv")
        try:
            meta = pd.read_csv(io.BytesIO(data), keep_default_na=False, dtype={"sample_id": str})
        except (ValueError, pd.errors.ParserError) as exc:
            raise DatasetError(f"{root / 'metadata.csv'}: unreadable: {_one_line(exc)}") from None
        missing = [c for c in ("sample_id", "input_file_name") if c not in meta.columns]
        if missing:
            raise DatasetError(f"{root / 'metadata.csv'}: missing column {missing[0]!r}; {_REBUILD}")
        self.metadata = meta

    def _listed(self, rel: str) -> tuple[Path, str]:
        """The path of ``rel`` and the SHA-256 the manifest records for it (a file it does not list is refused)."""
        path = self.root / rel
        recorded = self.files.get(rel)
        if recorded is None:
            raise DatasetError(f"{path}: not listed in the dataset's manifest; {_REBUILD}")
        return path, recorded

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of ``rel`` (relative to the split folder), read once and checked against the manifest."""
        path, recorded = self._listed(rel)
        where: Path | str = path
        if self._shards is not None and rel == "metadata.csv":
            data = self._shards.metadata_csv()  # rendered from the shards' columns, so that they are what is checked
            where = f"{path} (the metadata columns of {self.root}/*.parquet)"
        else:
            with _read_errors(path):
                data = path.read_bytes()
        found = hashlib.sha256(data).hexdigest()
        if found != recorded:
            raise _differ(where, recorded, found)
        return data

    def _verify_file(self, rel: str) -> Path:
        """Hash a large file in chunks (it is then memory-mapped, not read into RAM)."""
        path, recorded = self._listed(rel)
        with _read_errors(path):
            found = file_sha256(path)
        if found != recorded:
            raise _differ(path, recorded, found)
        return path

    def _image(self, rel: str, index: int, column: str) -> np.ndarray:
        if self._shards is None:
            data, where = self.read_bytes(rel), f"{self.root / rel}"
        else:
            path, recorded = self._listed(rel)
            name, data, shard = self._shards.image(index, column)
            where = f"{path} (in {shard.name})"
            if name != rel:
                raise DatasetError(f"{where}: row {index} of the shards holds {name!r} instead; {_REBUILD}")
            found = hashlib.sha256(data).hexdigest()
            if found != recorded:
                raise _differ(where, recorded, found)
        try:
            return read_png(io.BytesIO(data))
        except Exception as exc:  # any decoder failure is one line naming the file
            raise DatasetError(f"{where}: cannot decode image: {_one_line(exc)}") from None

    def __len__(self) -> int:
        return len(self.metadata)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: int) -> Sample:
        row = self.metadata.iloc[index].to_dict()
        arrays: dict[str, np.ndarray | None] = {}
        for col in IMAGE_COLUMNS:
            rel = row.get(f"{col}_file_name", "")
            arrays[col] = self._image(str(rel), index, col) if rel != "" else None
        mask = arrays["mask"]
        label = row.get("label", "")
        try:
            label = None if label == "" else int(label)
        except (TypeError, ValueError):
            raise DatasetError(
                f"{self.root / 'metadata.csv'}: sample {row['sample_id']}: label {label!r} is not 0 or 1"
            ) from None
        return Sample(
            sample_id=str(row["sample_id"]),
            input=arrays["input"],
            target=arrays["target"],
            lowres=arrays["lowres"],
            mask=None if mask is None else mask > 127,
            label=label,
            meta=row,
        )

    def triplets(self) -> tuple[np.ndarray, np.ndarray]:
        """BlockCNN arrays: inputs ``(N, 24, 24, 3)`` and targets ``(N, 8, 8, 3)``, uint8.

        Memory-mapped, so a large split is not read into RAM at once (each file is hashed first).
        """
        names = ("triplets_input.npy", "triplets_target.npy")
        if not all(n in self.files for n in names):
            raise DatasetError(f"{self.root}: split {self.name!r} has no triplet arrays")
        arrays = []
        for rel in names:
            path = self._verify_file(rel)
            try:
                arrays.append(np.load(path, mmap_mode="r"))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{path}: unreadable array: {_one_line(exc)}") from None
        return arrays[0], arrays[1]

    def triplet_contexts(self) -> np.ndarray:
        """The clean ``24x24`` neighbourhood of every triplet, ``(N, 24, 24, 3)`` uint8.

        Cut from the split's clean crops at the block positions of ``triplets.csv`` (by
        :func:`~pixbench.degradations.blocks.extract_triplets`, as the builder cut the JPEG
        ones); the centre ``8x8`` of each is that triplet's target, which is checked.
        """
        meta = self.triplet_metadata()
        missing = {"sample_id", "block_x", "block_y"} - set(meta.columns)
        if missing:
            raise DatasetError(f"{self.root / 'triplets.csv'}: no column {sorted(missing)[0]!r}")
        rows = {sid: i for i, sid in enumerate(self.metadata["sample_id"])}
        parts = []
        # triplets.csv lists each crop's triplets together, in the order of the arrays
        for sid, group in meta.groupby("sample_id", sort=False):
            if sid not in rows:
                raise DatasetError(f"{self.root}: triplets.csv names sample {sid!r}, which the split does not have")
            clean = self[rows[sid]].target
            positions = [(int(x), int(y)) for x, y in zip(group["block_x"], group["block_y"], strict=True)]
            try:
                parts.append(extract_triplets(clean, clean, positions)[0])
            except ValueError as exc:
                raise DatasetError(f"{self.root / 'triplets.csv'}: sample {sid!r}: {exc}") from None
        out = np.concatenate(parts) if parts else np.empty((0, CONTEXT, CONTEXT, 3), np.uint8)
        if not np.array_equal(out[:, BLOCK : 2 * BLOCK, BLOCK : 2 * BLOCK], self.triplets()[1]):
            raise DatasetError(f"{self.root}: split {self.name!r}: the clean crops and triplets_target.npy disagree")
        return out

    def triplet_metadata(self) -> pd.DataFrame:
        """One row per triplet (source, block position, quality, ...)."""
        try:
            return pd.read_csv(io.BytesIO(self.read_bytes("triplets.csv")), keep_default_na=False)
        except ValueError as exc:
            raise DatasetError(f"{self.root / 'triplets.csv'}: unreadable: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


class BuiltDataset:
    """A complete dataset folder whose manifest was checked. Use :func:`open_dataset` to get one.

    ``files`` is the verified manifest: every split file's path (relative to ``root``) -> SHA-256.
    """

    def __init__(self, root: Path, info: dict[str, Any], files: Mapping[str, str]) -> None:
        self.root = root
        self.info = info
        self.files = dict(files)

    @property
    def task(self) -> str:
        return self.info["task"]

    @property
    def recipe_name(self) -> str:
        return self.info["recipe"]["name"]

    @property
    def recipe_version(self) -> int:
        return int(self.info["recipe"]["version"])

    @property
    def fingerprint(self) -> str:
        """The fingerprint, verified against the manifest (or, for an old dataset, the files) on opening."""
        return self.info["fingerprint"]

    @property
    def layout(self) -> str:
        """``imagefolder`` (a PNG file per image) or ``parquet`` (Parquet shards per split)."""
        return self.info.get("layout", LAYOUTS[0])

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLITS if f"{s}/metadata.csv" in self.files]

    def split(self, name: str) -> DatasetSplit:
        if name not in self.splits:
            raise DatasetError(f"{self.root}: no split {name!r}; this dataset has {', '.join(self.splits) or 'none'}")
        prefix = f"{name}/"
        files = {rel[len(prefix) :]: sha for rel, sha in self.files.items() if rel.startswith(prefix)}
        if self.layout == LAYOUTS[0]:
            return DatasetSplit(self.root / name, name, files)
        shards = {rel[len(prefix) :]: e for rel, e in sorted(self.info[SHARDS_KEY].items()) if rel.startswith(prefix)}
        return DatasetSplit(self.root / name, name, files, shards)


def open_dataset(path: str | Path) -> BuiltDataset:
    """Open a dataset folder built by pixbench and verify its manifest (see ``docs/integrity.md``).

    Raises:
        DatasetError: The folder does not exist, was not built by pixbench, is half-built
            (an interrupted build), is of an unknown format version, has a malformed
            ``dataset.json``, or its fingerprint does not follow from its manifest (or, for a
            dataset built before manifests, from its files).
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    info_path = root / "dataset.json"
    if not info_path.is_file():
        if (root / BUILD_STATE_DIR).is_dir():
            raise DatasetError(
                f"{root}: half-built dataset (an interrupted build); rerun the same "
                "`pixbench build-dataset` command to finish it"
            )
        raise DatasetError(f"{root}: not a pixbench dataset (no dataset.json); build one with `pixbench build-dataset`")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{info_path}: unreadable dataset.json: {_one_line(exc)}") from None
    # either version this pixbench reads; whether it goes with the layout is checked with the other keys
    version = (
        PARQUET_FORMAT_VERSION
        if isinstance(info, dict) and info.get("format_version") == PARQUET_FORMAT_VERSION
        else FORMAT_VERSION
    )
    check_format(info, name=FORMAT_NAME, version=version, where=str(info_path), kind="dataset", error=DatasetError)
    if info.get("task") not in TASK_NAMES:
        raise DatasetError(f"{info_path}: unknown task {info.get('task')!r}; expected one of {', '.join(TASK_NAMES)}")
    if (root / BUILD_STATE_DIR).is_dir():
        raise DatasetError(
            f"{root}: half-built dataset (a build is in progress or was interrupted); rerun "
            "`pixbench build-dataset` to finish it"
        )
    check_info(info, info_path)
    return BuiltDataset(root, info, verified_manifest(root, info, info_path))


__all__ = [
    "BUILD_STATE_DIR",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "IMAGE_COLUMNS",
    "LAYOUTS",
    "MANIFEST_KEY",
    "SPLITS",
    "BuiltDataset",
    "DatasetSplit",
    "Sample",
    "fingerprint_of",
    "open_dataset",
    "split_file_hashes",
]
