"""The output folder of a build: its working state, done records and the build lock.

While a build runs, its working state lives in ``OUT/.pixbench-build/``: ``build.json``
(what this build is), one *done record* per finished source image under ``done/``
(for BlockCNN, its triplet arrays under ``triplets/``; for the Parquet layout, its sample
files' bytes as one blob under ``blobs/``). A rerun after an interruption skips every
image that has a record. The folder's presence means "half-built"; the builder removes it
last. ``lock`` in it is the exclusive build lock (:func:`build_lock`). Deciding what to do
with a folder that is already there, and ``--overwrite``, are :mod:`pixbench.builder.overwrite`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.datasets import BUILD_STATE_DIR, LAYOUTS, SPLITS
from pixbench.errors import DatasetError
from pixbench.images import write_bytes_atomic
from pixbench.recipes import Recipe

#: The lock file in the working folder; a build holds an exclusive ``flock`` on it.
LOCK_NAME = "lock"
#: Lock descriptors this process holds; a forked build worker closes its copies (the lock stays the parent's).
_HELD: set[int] = set()


def _close_held_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


def state_dir(out: Path) -> Path:
    """The working folder of a build into ``out``."""
    return out / BUILD_STATE_DIR


def record_name(source_id: str) -> str:
    """File name of a source image's done record."""
    return hashlib.sha256(source_id.encode()).hexdigest()[:32] + ".json"


def build_key(
    recipe: Recipe,
    spec: str,
    limit: int | None,
    split: str | None,
    layout: str = LAYOUTS[0],
    shard_mb: int | None = None,
) -> dict[str, Any]:
    """What makes two builds the same build (``dataset.json`` ``build``; ``split`` None: by fractions).

    The layout is named only when it is not the default (``format``, with the shard size ``shard_mb``),
    so an imagefolder build keeps the key, and the ``dataset.json``, it always had.
    """
    key = {"recipe": recipe.label, "recipe_sha256": recipe.sha256(), "source": spec, "limit": limit, "split": split}
    if layout != LAYOUTS[0]:
        key.update(format=layout, shard_mb=shard_mb)
    return key


def blob_path(state: Path, name: str) -> Path:
    """Where a source image's sample files wait as one blob (Parquet layout), by its done-record name."""
    return state / "blobs" / f"{name.removesuffix('.json')}.bin"


def refuse_foreign(out: Path) -> None:
    """Refuse a path that is not a folder, or a non-empty folder with neither ``dataset.json`` nor a working folder."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"-o {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not ((out / "dataset.json").is_file() or state_dir(out).is_dir()):
        raise DatasetError(
            f"-o {out}: folder is not empty and is not a pixbench dataset; "
            "choose a new or empty folder (pixbench never deletes folders it did not write)"
        )


def state_used(state: Path) -> bool:
    """Whether the working folder holds anything but the lock (a build wrote into it)."""
    return state.is_dir() and any(p.name != LOCK_NAME for p in state.iterdir())


def clear_state(state: Path) -> None:
    """Empty the working folder, keeping the lock file this process holds."""
    for path in state.iterdir():
        if path.name == LOCK_NAME:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def start_state(out: Path, key: dict[str, Any]) -> Path:
    """Create (or keep, on resume) the working folder and record what this build is; returns the folder."""
    state = state_dir(out)
    write_bytes_atomic(state / "build.json", json.dumps(key, sort_keys=True).encode())
    (state / "done").mkdir(exist_ok=True)
    return state


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def write_record(
    state: Path, name: str, record: dict[str, Any], arrays: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, Any]:
    """Write a source image's done record (and its triplet arrays first), atomically.

    Returns:
        A small summary for the caller (the full record stays on disk).
    """
    if arrays is not None:
        stem = name.removesuffix(".json")
        write_bytes_atomic(state / "triplets" / f"{stem}.x.npy", npy_bytes(arrays[0]))
        write_bytes_atomic(state / "triplets" / f"{stem}.y.npy", npy_bytes(arrays[1]))
    write_bytes_atomic(state / "done" / name, json.dumps(record, sort_keys=True).encode())
    return {"source_id": record["source_id"], "status": record["status"]}


def read_record(state: Path, name: str) -> dict[str, Any]:
    """A done record written by :func:`write_record`."""
    return json.loads((state / "done" / name).read_text(encoding="utf-8"))


def remove_temp_files(out: Path) -> None:
    """Delete temporary files an interrupted atomic write left behind."""
    for split in SPLITS:
        if (out / split).is_dir():
            for path in (out / split).rglob(".*.tmp"):
                path.unlink(missing_ok=True)


@contextlib.contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold the exclusive build lock of ``out`` (``OUT/.pixbench-build/lock``) while the block runs.

    ``flock`` is released by the kernel when the process dies, so a killed build leaves no
    stale lock. On exit the lock file (and the working folder, if nothing else is in it) is
    removed while still held; a process that opened the old file notices and locks the new one.

    Raises:
        DatasetError: ``out`` is not a folder or not pixbench's (nothing is created in it), or
            another process holds the lock.
    """
    refuse_foreign(out)  # before creating anything in a folder that is not ours
    state, fd, created = state_dir(out), -1, not out.exists()
    path = state / LOCK_NAME
    while fd < 0:
        state.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:  # the working folder vanished between mkdir and open: the holder finished
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DatasetError(
                f"{out} is being built by another pixbench process (pid {pid}); wait for it or choose another -o"
            ) from None
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if not current:  # locked a file its holder had already removed
            os.close(fd)
            fd = -1
    _HELD.add(fd)
    # the pid is for the second process's message; a lock file is written in place by nature
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            state.rmdir()  # only when empty: a half-built folder keeps its state
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # a build refused before writing anything leaves no folder behind
        _HELD.discard(fd)
        os.close(fd)
