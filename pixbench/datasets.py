"""Reading a dataset folder written by ``pixbench build-dataset``.

This module is the contract between the builder and everything that reads its
output (``train``, ``evaluate``, the leaderboard checks). The on-disk format is
specified in ``docs/dataset-format.md``; this reader validates it at the door and
hands out plain numpy arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixbench.errors import DatasetError, check_format
from pixbench.images import read_png
from pixbench.tasks import TASK_NAMES

FORMAT_NAME = "pixbench-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
#: Folder that holds a build's working state; its presence means "half-built".
BUILD_STATE_DIR = ".pixbench-build"
#: Image columns in ``metadata.csv``: column ``<name>_file_name`` -> array field ``<name>``.
IMAGE_COLUMNS = ("input", "target", "lowres", "mask")


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
    """One split (``train``, ``val`` or ``test``) of a built dataset."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        meta_path = root / "metadata.csv"
        if not meta_path.is_file():
            raise DatasetError(f"{root}: split {name!r} has no metadata.csv")
        self.metadata = pd.read_csv(meta_path, keep_default_na=False, dtype={"sample_id": str})

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
            arrays[col] = read_png(self.root / rel) if rel else None
        mask = arrays["mask"]
        label = row.get("label", "")
        return Sample(
            sample_id=str(row["sample_id"]),
            input=arrays["input"],
            target=arrays["target"],
            lowres=arrays["lowres"],
            mask=None if mask is None else mask > 127,
            label=None if label == "" else int(label),
            meta=row,
        )

    def triplets(self) -> tuple[np.ndarray, np.ndarray]:
        """BlockCNN arrays: inputs ``(N, 24, 24, 3)`` and targets ``(N, 8, 8, 3)``, uint8.

        Memory-mapped, so a large split is not read into RAM at once.
        """
        x, y = self.root / "triplets_input.npy", self.root / "triplets_target.npy"
        if not (x.is_file() and y.is_file()):
            raise DatasetError(f"{self.root}: split {self.name!r} has no triplet arrays")
        return np.load(x, mmap_mode="r"), np.load(y, mmap_mode="r")

    def triplet_metadata(self) -> pd.DataFrame:
        """One row per triplet (source, block position, quality, ...)."""
        return pd.read_csv(self.root / "triplets.csv", keep_default_na=False)


class BuiltDataset:
    """A complete dataset folder. Use :func:`open_dataset` to get one."""

    def __init__(self, root: Path, info: dict[str, Any]) -> None:
        self.root = root
        self.info = info

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
        return self.info["fingerprint"]

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLITS if (self.root / s / "metadata.csv").is_file()]

    def split(self, name: str) -> DatasetSplit:
        if name not in self.splits:
            raise DatasetError(
                f"{self.root}: no split {name!r}; this dataset has {', '.join(self.splits) or 'none'}"
            )
        return DatasetSplit(self.root / name, name)


def open_dataset(path: str | Path) -> BuiltDataset:
    """Open and validate a dataset folder built by pixbench.

    Raises:
        DatasetError: The folder does not exist, was not built by pixbench, is
            half-built (an interrupted build), or is of an unknown format version.
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
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{info_path}: unreadable dataset.json: {exc}") from None
    check_format(info, name=FORMAT_NAME, version=FORMAT_VERSION, where=str(info_path), kind="dataset",
                 error=DatasetError)
    if info.get("task") not in TASK_NAMES:
        raise DatasetError(f"{info_path}: unknown task {info.get('task')!r}; expected one of {', '.join(TASK_NAMES)}")
    if (root / BUILD_STATE_DIR).is_dir():
        raise DatasetError(
            f"{root}: half-built dataset (a build is in progress or was interrupted); rerun "
            "`pixbench build-dataset` to finish it"
        )
    return BuiltDataset(root, info)
