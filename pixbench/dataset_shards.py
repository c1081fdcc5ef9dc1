"""The Parquet layout of a dataset: what its shards hold, and reading them back.

A dataset built with ``--format parquet`` stores each split as Parquet shards
(``<split>/<split>-00000-of-00003.parquet``) in the Hugging Face ``datasets`` layout: one row per
sample, each image column a struct ``{bytes, path}`` (the PNG bytes and the file name the
imagefolder layout would give it) marked as an ``Image`` feature, and the metadata as typed
columns, in the column order of ``metadata.csv``. The sample files and ``metadata.csv`` an
imagefolder build writes exist here only inside the shards: the manifest lists them all the
same (:func:`in_shards`), so both layouts have one manifest and one fingerprint.

:class:`ShardReader` gives :mod:`pixbench.datasets` the bytes the manifest names: the PNG bytes
of one sample, and ``metadata.csv`` rendered from the shards' columns with the writer the
builder uses (:func:`write_csv_row`), so the reader checks both against the manifest exactly as it
checks files on disk. It imports no stage above the datasets layer.
"""

from __future__ import annotations

import bisect
import csv
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pixbench.errors import DatasetError

#: The dataset layouts ``build-dataset --format`` writes; the first is the default.
LAYOUTS = ("imagefolder", "parquet")
#: ``format_version`` of a Parquet dataset's ``dataset.json`` (an imagefolder one stays at 1).
PARQUET_FORMAT_VERSION = 2
#: ``dataset.json`` key of the shard table: ``<split>/<shard>.parquet`` -> ``{"rows", "bytes", "sha256"}``.
SHARDS_KEY = "shards"
#: Image columns: column ``<name>_file_name`` of ``metadata.csv``, array field ``<name>`` of a sample.
IMAGE_COLUMNS = ("input", "target", "lowres", "mask")
#: The Arrow type of an image column: the Hugging Face ``Image`` feature's storage.
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
#: Schema metadata key that tells Hugging Face ``datasets`` the features (so images decode as images).
HF_KEY = b"huggingface"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SHARD_NAME = re.compile(r"(train|val|test)-[0-9]{5}-of-[0-9]{5}\.parquet")
#: Row groups kept decoded per split while reading (sequential reads touch each group once).
CACHED_GROUPS = 4
_REBUILD = "the dataset was modified after it was built — rebuild it"


def shard_name(split: str, index: int, count: int) -> str:
    """The file name of shard ``index`` (from 0) of ``count`` in ``split``, as the Hugging Face Hub names them."""
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def is_shard_name(name: str) -> bool:
    """Whether ``name`` is a shard file name :func:`shard_name` gives."""
    return _SHARD_NAME.fullmatch(name) is not None


def in_shards(rel: str) -> bool:
    """Whether a split's manifest entry ``rel`` (relative to the split folder) lives inside its Parquet shards.

    ``metadata.csv`` and the sample images (``<kind>/<sample_id>.png``) do; every other entry (the
    BlockCNN arrays and ``triplets.csv``) is a file in the split folder, as in the imagefolder layout.
    """
    return rel == "metadata.csv" or rel.split("/", 1)[0] in IMAGE_COLUMNS


def check_layout(info: Mapping[str, Any], where: Path, manifest_key: str) -> None:
    """A ``dataset.json``'s layout keys, one line for the first that is wrong.

    An imagefolder dataset has no ``layout`` key (format version 1). A Parquet one has ``layout: parquet``
    (format version 2), its manifest
    (``manifest_key``) and a shard table: ``<split>/<split>-NNNNN-of-NNNNN.parquet`` ->
    ``{"rows": int, "bytes": int, "sha256": hex}``.
    """
    layout = info.get("layout", LAYOUTS[0])
    if layout not in LAYOUTS:
        raise DatasetError(f"{where}: unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}; {_REBUILD}")
    version = PARQUET_FORMAT_VERSION if layout == LAYOUTS[1] else 1
    if info.get("format_version") != version:
        raise DatasetError(
            f"{where}: format version {info.get('format_version')!r} does not go with layout {layout} "
            f"(version {version}); {_REBUILD}"
        )
    if layout == LAYOUTS[0]:
        return
    if not isinstance(info.get(manifest_key), dict):
        raise DatasetError(f"{where}: a Parquet dataset needs its file list (key {manifest_key!r}); {_REBUILD}")
    shards = info.get(SHARDS_KEY)
    if not isinstance(shards, dict):
        raise DatasetError(
            f"{where}: key {SHARDS_KEY!r} must map shard paths to their rows, bytes and sha256; {_REBUILD}"
        )
    for rel, entry in shards.items():
        split, _, name = str(rel).partition("/")
        good = is_shard_name(name) and name.startswith(f"{split}-") and isinstance(entry, dict)
        counts = good and all(type(entry.get(k)) is int and entry[k] >= 0 for k in ("rows", "bytes"))
        if not counts or not _HEX64.fullmatch(str(entry.get("sha256"))):
            raise DatasetError(
                f"{where}: shard entry {rel!r}: expected '<split>/<split>-NNNNN-of-NNNNN.parquet' with "
                f"non-negative integer rows and bytes and a sha256; {_REBUILD}"
            )


def csv_value(value: Any) -> Any:
    """A metadata value as ``metadata.csv`` writes it: ``None`` empty, lists and dicts as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def csv_writer(sink: Any) -> Any:
    """The ``csv`` writer of ``metadata.csv`` (``\\n`` line ends) on a text sink with a ``write`` method."""
    return csv.writer(sink, lineterminator="\n")


def write_csv_row(writer: Any, values: Iterable[Any]) -> None:
    """Write one ``metadata.csv`` row of raw values (see :func:`csv_value`)."""
    writer.writerow([csv_value(v) for v in values])


class _Text:
    """A text sink that collects UTF-8 bytes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, text: str) -> None:
        self.parts.append(text.encode("utf-8"))


class ShardReader:
    """The Parquet shards of one split, read by row and by column.

    Args:
        root: The split folder.
        shards: Shard file name (in ``root``) -> its ``{"rows", "bytes", ...}`` entry, in row order.
    """

    def __init__(self, root: Path, shards: Mapping[str, Mapping[str, Any]]) -> None:
        self.root = root
        self.names = list(shards)
        self.sizes = [int(entry["bytes"]) for entry in shards.values()]
        self._files: dict[int, pq.ParquetFile] = {}
        self._starts: list[int] = []  # the first row of every row group, in row order
        self._groups: list[tuple[int, int]] = []  # (shard, row group) of each
        self._cache: OrderedDict[tuple[int, int], pa.Table] = OrderedDict()

    def check(self) -> None:
        """Every shard exists with its recorded size (a truncated or missing shard is refused before any read)."""
        for name, size in zip(self.names, self.sizes):
            path = self.root / name
            if not path.is_file():
                raise DatasetError(f"{path}: missing (listed in the dataset's shards); {_REBUILD}")
            if path.stat().st_size != size:
                raise DatasetError(f"{path}: {path.stat().st_size} bytes, the dataset records {size}; {_REBUILD}")

    def _file(self, index: int) -> pq.ParquetFile:
        if index not in self._files:
            path = self.root / self.names[index]
            try:
                self._files[index] = pq.ParquetFile(path)
            except (OSError, pa.ArrowException) as exc:
                raise DatasetError(f"{path}: not a readable Parquet file: {_one_line(exc)}; {_REBUILD}") from None
        return self._files[index]

    def metadata_csv(self) -> bytes:
        """The bytes of the split's ``metadata.csv``, rendered from every shard's metadata and image paths.

        Also indexes the row groups, so that :meth:`image` finds a row without scanning.
        """
        out = _Text()
        writer = csv_writer(out)
        names: list[str] | None = None
        self._starts.clear()
        self._groups.clear()
        row = 0
        for index, name in enumerate(self.names):
            file = self._file(index)
            these = file.schema_arrow.names
            if names is None:
                names = these
                writer.writerow([f"{c}_file_name" if c in IMAGE_COLUMNS else c for c in names])
            elif these != names:
                raise DatasetError(f"{self.root / name}: columns {these} differ from the first shard's; {_REBUILD}")
            for group in range(file.metadata.num_row_groups):
                self._starts.append(row)
                self._groups.append((index, group))
                row += file.metadata.row_group(group).num_rows
            columns = [f"{c}.path" if c in IMAGE_COLUMNS else c for c in names]
            try:
                table = file.read(columns=columns)
            except (OSError, pa.ArrowException) as exc:
                raise DatasetError(f"{self.root / name}: unreadable: {_one_line(exc)}; {_REBUILD}") from None
            cells = [_cells(table.column(c), c in IMAGE_COLUMNS) for c in names]
            for values in zip(*cells):
                write_csv_row(writer, values)
        return b"".join(out.parts)

    def image(self, index: int, column: str) -> tuple[str | None, bytes, Path]:
        """Row ``index`` of the split: ``column``'s file name, its PNG bytes, and the shard that holds it.

        Call :meth:`metadata_csv` first: it indexes the row groups.
        """
        at = bisect.bisect_right(self._starts, index) - 1
        shard, group = self._groups[at]
        where = self.root / self.names[shard]
        table = self._group(shard, group)
        if column not in table.column_names:
            raise DatasetError(f"{where}: no image column {column!r}; {_REBUILD}")
        cell = table.column(column)[index - self._starts[at]].as_py()
        if cell is None or not isinstance(cell.get("bytes"), bytes):
            raise DatasetError(f"{where}: row {index}: no {column} image bytes; {_REBUILD}")
        return cell.get("path"), cell["bytes"], where

    def _group(self, shard: int, group: int) -> pa.Table:
        key = (shard, group)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        file = self._file(shard)
        columns = [c for c in file.schema_arrow.names if c in IMAGE_COLUMNS]
        try:
            table = file.read_row_group(group, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            raise DatasetError(f"{self.root / self.names[shard]}: unreadable: {_one_line(exc)}; {_REBUILD}") from None
        self._cache[key] = table
        if len(self._cache) > CACHED_GROUPS:
            self._cache.popitem(last=False)
        return table


def _cells(column: pa.ChunkedArray, image: bool) -> list[Any]:
    """A column's values as ``metadata.csv`` cells (an image column's cell is its file name)."""
    values = column.to_pylist()
    if image:
        return [None if v is None else v.get("path") for v in values]
    return values


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
