"""Packing a finished build into Parquet shards (``build-dataset --format parquet``).

Every source image's samples wait in the working folder as one blob (see
:func:`pixbench.builder.samples.process_item`). When all are done, the driver reads the done
records twice, in source order: first to type each metadata column and cut each split into
shards of at most ``shard_mb`` megabytes of image bytes (:class:`ShardPlan`), then to write the
rows (:func:`write_shards`). Both passes depend only on the records, so the shards are the same
bytes whichever engine or worker count built the samples. Each shard is written through
:func:`pixbench.images.atomic_output`, in row groups of at most :data:`GROUP_ROWS` rows and
:data:`GROUP_BYTES` bytes, so the driver holds one row group per split at a time, never a shard.

The manifest entries are those an imagefolder build records: each sample file's bytes are the PNG
bytes in the shard, and ``metadata.csv``'s hash is taken over the text the imagefolder build writes,
rendered by the same writer (:func:`pixbench.dataset_shards.write_csv_row`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pixbench.builder.output import blob_path, read_record
from pixbench.dataset_shards import HF_KEY, IMAGE_COLUMNS, IMAGE_TYPE, csv_value, csv_writer, shard_name, write_csv_row
from pixbench.errors import DatasetError
from pixbench.images import atomic_output

#: Megabytes of image bytes per shard unless told otherwise (``--parquet-shard-mb``).
DEFAULT_SHARD_MB = 500
#: Rows per row group at most (the Hugging Face Hub's choice for image datasets).
GROUP_ROWS = 100
#: Image bytes per row group at most: a random read of one sample reads its whole row group, and the driver
#: holds one row group per split while it writes.
GROUP_BYTES = 8 * 1024 * 1024
#: The Arrow type and the Hugging Face ``Value`` dtype of a column whose values are all of one kind.
_TYPES = {"bool": (pa.bool_(), "bool"), "int": (pa.int64(), "int64"), "float": (pa.float64(), "float64")}


def _kind(value: Any) -> str | None:
    """The kind of one metadata value (``None`` for an empty cell); ``text`` when it is not a plain scalar."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**63) <= value < 2**63 else "text"
    if isinstance(value, float):
        return "float"
    return "str" if isinstance(value, str) else "text"


def row_values(row: dict[str, Any], header: list[str]) -> list[Any]:
    """A done record's row as the raw values of the ``metadata.csv`` columns (``params`` flattened in)."""
    params = row["params"]
    merged = {**params, **{k: v for k, v in row.items() if k != "params"}}
    merged["params"] = params
    return [merged.get(col) for col in header]


def sample_files(row: dict[str, Any], header: list[str]) -> list[tuple[str, str]]:
    """The ``(kind, file name)`` of a row's sample files, in the order the worker wrote them into its blob."""
    kinds = [c.removesuffix("_file_name") for c in header if c.endswith("_file_name")]
    return [(k, row[f"{k}_file_name"]) for k in kinds if row.get(f"{k}_file_name")]


class ShardPlan:
    """The shards' schema and where each split's shards end, from a first pass over the done records.

    Args:
        header: The ``metadata.csv`` columns.
        shard_mb: Megabytes of image bytes per shard at most (a single larger row gets a shard of its own).
    """

    def __init__(self, header: list[str], shard_mb: int) -> None:
        self.header = header
        self.limit = shard_mb * 1_000_000
        self.kinds: list[set[str]] = [set() for _ in header]
        self.rows: dict[str, list[int]] = {}  # split -> rows of each shard
        self._bytes: dict[str, int] = {}

    def add(self, record: dict[str, Any]) -> None:
        """Account for one included image's rows."""
        split, sizes = record["split"], iter(record["blob"])
        shards = self.rows.setdefault(split, [0])
        for row in record["rows"]:
            for kinds, value in zip(self.kinds, row_values(row, self.header)):
                kind = _kind(value)
                if kind is not None:
                    kinds.add(kind)
            size = sum(next(sizes) for _ in sample_files(row, self.header))
            if shards[-1] and self._bytes.get(split, 0) + size > self.limit:
                shards.append(0)
                self._bytes[split] = 0
            shards[-1] += 1
            self._bytes[split] = self._bytes.get(split, 0) + size

    def columns(self) -> list[tuple[str, str]]:
        """``(name, kind)`` of each shard column: image columns named by kind, metadata by their header name."""
        out = []
        for col, kinds in zip(self.header, self.kinds):
            if col.endswith("_file_name") and col.removesuffix("_file_name") in IMAGE_COLUMNS:
                out.append((col.removesuffix("_file_name"), "image"))
            elif len(kinds) == 1 and next(iter(kinds)) in (*_TYPES, "str"):
                out.append((col, next(iter(kinds))))
            else:  # mixed kinds, lists or dicts, or nothing but empty cells: the cell text
                out.append((col, "text"))
        return out

    def schema(self) -> pa.Schema:
        """The Arrow schema, with the Hugging Face features that make image columns decode as images."""
        fields, features = [], {}
        for name, kind in self.columns():
            if kind == "image":
                fields.append(pa.field(name, IMAGE_TYPE))
                features[name] = {"_type": "Image"}
            else:
                arrow, dtype = _TYPES.get(kind, (pa.string(), "string"))
                fields.append(pa.field(name, arrow))
                features[name] = {"_type": "Value", "dtype": dtype}
        meta = json.dumps({"info": {"features": features}}, separators=(",", ":"))  # in column order
        return pa.schema(fields, metadata={HF_KEY: meta.encode()})


class _HashText:
    """A text sink that hashes the UTF-8 bytes written to it (``metadata.csv`` without the file)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, text: str) -> None:
        self.digest.update(text.encode("utf-8"))


class _HashingFile:
    """A file that hashes and counts what is written to it (so a shard is never read back to be hashed)."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.digest, self.size, self.closed = handle, hashlib.sha256(), 0, False

    def write(self, data: Any) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.handle.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


class _SplitWriter:
    """Writes one split's rows into its planned shards, a row group at a time; hashes its ``metadata.csv``."""

    def __init__(self, folder: Path, split: str, plan: ShardPlan) -> None:
        self.folder, self.split, self.plan = folder, split, plan
        self.schema = plan.schema()
        self.kinds = [kind for _, kind in plan.columns()]
        self.shards = plan.rows[split]
        self.csv = _HashText()
        self.writer = csv_writer(self.csv)
        self.writer.writerow(plan.header)
        self.group: list[list[Any]] = []
        self.group_bytes = 0
        self.shard, self.written = 0, 0
        self.table: dict[str, dict[str, Any]] = {}  # the written shards' dataset.json entries
        self._file: pq.ParquetWriter | None = None
        self._sink: _HashingFile | None = None
        self._stack = contextlib.ExitStack()

    def add(self, values: list[Any], images: dict[str, bytes]) -> None:
        """One row: the raw metadata values and the bytes of its image files by file name."""
        write_csv_row(self.writer, values)
        cells = []
        for value, kind in zip(values, self.kinds):
            if kind == "image":
                cells.append((images[value], value) if value else None)
            elif kind == "text":
                cells.append(None if value is None else str(csv_value(value)))
            else:
                cells.append(value)
        self.group.append(cells)
        self.group_bytes += sum(len(b) for b in images.values())
        if len(self.group) >= GROUP_ROWS or self.group_bytes >= GROUP_BYTES:
            self._flush()
        if self.written + len(self.group) == self.shards[self.shard]:
            self._flush()
            self._close_shard()

    def _flush(self) -> None:
        if not self.group:
            return
        if self._file is None:
            name = shard_name(self.split, self.shard, len(self.shards))
            tmp = self._stack.enter_context(atomic_output(self.folder / name))
            self._sink = _HashingFile(self._stack.enter_context(open(tmp, "wb")))
            # images are PNG already: no compression, no dictionary, no min/max statistics of their bytes
            plain = [f.name for f, kind in zip(self.schema, self.kinds) if kind != "image"]
            compression = {
                f.name: ("snappy" if kind != "image" else "none") for f, kind in zip(self.schema, self.kinds)
            }
            self._file = pq.ParquetWriter(
                self._sink, self.schema, compression=compression, use_dictionary=plain, write_statistics=plain
            )
        arrays = [_array(cells, f.type, kind) for cells, f, kind in zip(zip(*self.group), self.schema, self.kinds)]
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self._file.write_table(table, row_group_size=len(self.group))
        self.written += len(self.group)
        self.group, self.group_bytes = [], 0

    def _close_shard(self) -> None:
        if self._file is not None and self._sink is not None:
            self._file.close()
            self._file = None
            name = f"{self.split}/{shard_name(self.split, self.shard, len(self.shards))}"
            rows = self.shards[self.shard]
            self.table[name] = {"rows": rows, "bytes": self._sink.size, "sha256": self._sink.digest.hexdigest()}
        self._stack.close()  # the shard appears under its name only once complete
        self._stack = contextlib.ExitStack()
        self.shard, self.written = self.shard + 1, 0

    def finish(self) -> str:
        """Check that every planned shard was written; the SHA-256 of the split's ``metadata.csv``."""
        if self.group or self.shard != len(self.shards):
            raise DatasetError(f"{self.folder}: wrote {self.shard} of {len(self.shards)} planned shards")  # a bug
        return self.csv.digest.hexdigest()

    def abort(self, exc: BaseException) -> None:
        """Drop the shard being written (its temporary file) after ``exc``."""
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
        self._stack.__exit__(type(exc), exc, exc.__traceback__)


def _array(cells: tuple[Any, ...], kind_type: pa.DataType, kind: str) -> pa.Array:
    """One column of a row group; an image column from its ``(bytes, path)`` pairs, without a dict per cell."""
    if kind != "image":
        return pa.array(cells, type=kind_type)
    present = [c is not None for c in cells]
    data = pa.array([c[0] if c else None for c in cells], pa.binary())
    paths = pa.array([c[1] if c else None for c in cells], pa.string())
    mask = None if all(present) else pa.array([not p for p in present])
    return pa.StructArray.from_arrays([data, paths], fields=list(IMAGE_TYPE), mask=mask)


def write_shards(
    out: Path, state: Path, included: list[tuple[str, str]], plan: ShardPlan
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Write every split's shards from the done records and blobs of ``included`` (``(record, split)``, in order).

    Returns:
        The manifest entries of the samples and ``metadata.csv`` of every split (path relative to
        ``out`` -> SHA-256, as an imagefolder build of the same recipe records them), and the shard
        table (each shard's path -> its rows, bytes and SHA-256).
    """
    files: dict[str, str] = {}
    writers: dict[str, _SplitWriter] = {}
    try:
        for name, split in included:
            record = read_record(state, name)
            if split not in writers:
                writers[split] = _SplitWriter(out / split, split, plan)
            for values, images in _rows(state, name, record, plan.header):
                for rel, data in images.items():
                    files[f"{split}/{rel}"] = hashlib.sha256(data).hexdigest()
                writers[split].add(values, images)
    except BaseException as exc:
        for writer in writers.values():
            writer.abort(exc)
        raise
    shards: dict[str, dict[str, Any]] = {}
    for split, writer in writers.items():
        files[f"{split}/metadata.csv"] = writer.finish()
        shards.update(writer.table)
    return files, dict(sorted(shards.items()))


def _rows(
    state: Path, name: str, record: dict[str, Any], header: list[str]
) -> Iterator[tuple[list[Any], dict[str, bytes]]]:
    """Each row of one image's record: its raw metadata values and its image files' bytes, cut from the blob."""
    blob = blob_path(state, name).read_bytes()
    sizes = record["blob"]
    if sum(sizes) != len(blob):
        raise DatasetError(
            f"{blob_path(state, name)}: {len(blob)} bytes, its done record says {sum(sizes)}; the working folder "
            "was changed — rebuild with --overwrite"
        )
    at, part = 0, 0
    for row in record["rows"]:
        images = {}
        for _, rel in sample_files(row, header):
            images[rel] = blob[at : at + sizes[part]]
            at, part = at + sizes[part], part + 1
        yield row_values(row, header), images
