"""The output folder of a build: deciding fresh/resume/complete, the working state, done records.

While a build runs, its working state lives in ``OUT/.pixbench-build/``: ``build.json``
(what this build is), one *done record* per finished source image under ``done/``
(and, for BlockCNN, its triplet arrays under ``triplets/``). A rerun after an
interruption skips every image that has a record. The folder's presence means
"half-built"; the builder removes it last. ``lock`` in it is the exclusive build lock
(:func:`build_lock`); ``--overwrite`` deletes only what pixbench provably wrote
(:func:`remove_dataset`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pixbench.datasets import BUILD_STATE_DIR, FORMAT_NAME, MANIFEST_KEY, SPLITS, fingerprint_of, split_file_hashes
from pixbench.errors import DatasetError
from pixbench.images import write_bytes_atomic
from pixbench.recipes import Recipe

#: The lock file in the working folder; a build holds an exclusive ``flock`` on it.
LOCK_NAME = "lock"
#: A sample file's name as :func:`pixbench.builder.samples.process_item` writes it: ``<kind>/<16 hex>-<4 digits>.png``.
_SAMPLE_FILE = re.compile(r"(input|target|lowres|mask)/[0-9a-f]{16}-[0-9]{4}\.png")
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


def build_key(recipe: Recipe, spec: str, limit: int | None, split: str | None) -> dict[str, Any]:
    """What makes two builds the same build (``dataset.json`` ``build``; ``split`` None: by fractions)."""
    return {"recipe": recipe.label, "recipe_sha256": recipe.sha256(), "source": spec, "limit": limit, "split": split}


def prepare_out(out: Path, key: dict[str, Any], overwrite: bool) -> str:
    """Decide what to do with ``out``: ``"fresh"``, ``"resume"`` or ``"complete"``; call it holding :func:`build_lock`.

    Raises:
        DatasetError: ``out`` holds another dataset (and no ``--overwrite``), or is a
            non-empty folder pixbench did not write (never deleted, even with ``--overwrite``),
            or ``--overwrite`` would have to delete a file pixbench did not write (see :func:`remove_dataset`).
    """
    refuse_foreign(out)
    info_path, state = out / "dataset.json", state_dir(out)
    used = _state_used(state)
    if not used and not any(p.name != BUILD_STATE_DIR for p in out.iterdir()):
        return "fresh"
    if used and not (state / "build.json").is_file() and not info_path.is_file():
        clear_state(state)  # killed before the build wrote anything but its working folder
        return prepare_out(out, key, overwrite)
    old = None
    try:
        if (state / "build.json").is_file():
            old = json.loads((state / "build.json").read_text(encoding="utf-8"))
        elif info_path.is_file():
            info = json.loads(info_path.read_text(encoding="utf-8"))
            old = info.get("build") if isinstance(info, dict) and info.get("format") == FORMAT_NAME else None
    except (OSError, ValueError):
        old = None  # unreadable: treated as a different dataset
    if isinstance(old, dict):
        old = {"split": None, **old}  # keys written before --split existed meant "by fractions"
    if old == key and not overwrite:
        return "resume" if used else "complete"
    if not overwrite:
        what = (
            f"recipe {old.get('recipe')} from source {old.get('source')!r}, limit {old.get('limit')}, "
            f"split {old.get('split') or 'by fractions'}"
            if isinstance(old, dict)
            else "an unknown build"
        )
        raise DatasetError(
            f"-o {out}: already holds a different dataset ({what}); "
            "pass --overwrite to replace it or choose another folder"
        )
    remove_dataset(out)
    return "fresh"


def refuse_foreign(out: Path) -> None:
    """Refuse a path that is not a folder, or a non-empty folder with neither ``dataset.json`` nor a working folder."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"-o {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not ((out / "dataset.json").is_file() or state_dir(out).is_dir()):
        raise DatasetError(
            f"-o {out}: folder is not empty and is not a pixbench dataset; "
            "choose a new or empty folder (pixbench never deletes folders it did not write)"
        )


def _state_used(state: Path) -> bool:
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


def _manifest_paths(out: Path, info: dict[str, Any]) -> set[Path]:
    """The split files a finished pixbench dataset lists (for one built before manifests: its files, when
    they still match its fingerprint)."""
    files = info.get(MANIFEST_KEY)
    if files is None:
        files = split_file_hashes(out)
        recipe = info.get("recipe") if isinstance(info.get("recipe"), dict) else {}
        build = info.get("build") if isinstance(info.get("build"), dict) else {}
        if fingerprint_of(files, str(recipe.get("sha256")), split=build.get("split")) != info.get("fingerprint"):
            raise DatasetError(
                f"-o {out}: its files no longer match its dataset.json fingerprint, so pixbench cannot "
                "tell which files it wrote; nothing deleted — move the folder away or choose another -o"
            )
    if not isinstance(files, dict):
        raise DatasetError(f"-o {out}: dataset.json has a malformed file list; nothing deleted — choose another -o")
    root = out.resolve()
    paths = set()
    for rel in files:
        parts = PurePosixPath(str(rel)).parts
        path = out / str(rel)
        if len(parts) < 2 or parts[0] not in SPLITS or ".." in parts or not path.resolve().is_relative_to(root):
            raise DatasetError(
                f"-o {out}: dataset.json lists {rel!r}, outside its split folders; nothing deleted — choose another -o"
            )
        paths.add(path)
    return paths


def _record_paths(out: Path) -> set[Path]:
    """The sample files the done records of a half-built folder list."""
    paths = set()
    done = state_dir(out) / "done"
    for rec_path in sorted(done.glob("*.json")) if done.is_dir() else []:
        try:
            rec = json.loads(rec_path.read_text(encoding="utf-8"))
            split = rec.get("split")
            for row in rec.get("rows", []) if split in SPLITS else []:
                paths.update(out / split / row[c] for c in row if c.endswith("_file_name") and isinstance(row[c], str))
        except (OSError, ValueError, AttributeError, TypeError):
            continue  # a record it cannot read proves nothing
    return paths


def _read_info(out: Path, info_path: Path) -> dict[str, Any]:
    """The ``dataset.json`` in ``out`` (``{}`` when there is none), refused unless it is pixbench's."""
    if not info_path.is_file():
        return {}
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise DatasetError(
            f"-o {out}: its dataset.json is not a pixbench dataset's; pixbench deletes only what it "
            "wrote, so not even --overwrite replaces it — choose another -o"
        )
    return info


def _card_paths(out: Path, info: dict[str, Any]) -> list[Path]:
    """The ``README.md`` and ``recipe.yaml`` in ``out``, each refused unless it is the one pixbench writes."""
    name = (info.get("recipe") or {}).get("name") if isinstance(info.get("recipe"), dict) else None
    cards = []
    for card, ours in (("README.md", f"# {name} (recipe version"), ("recipe.yaml", f"name: {name}\n")):
        path = out / card
        if path.exists():
            text = path.read_bytes()[: 1 << 16].decode(errors="replace")
            if name is None or (not text.startswith(ours) if card == "README.md" else ours not in text):
                raise DatasetError(
                    f"-o {path}: not the {card} pixbench wrote; --overwrite would replace it, so "
                    "move it away or choose another -o"
                )
            cards.append(path)
    return cards


def _split_paths(out: Path, listed: set[Path], half_built: bool) -> list[Path]:
    """Every file in ``out``'s split folders, refused unless it is ``listed``, an atomic-write temporary, or
    (``half_built``) sample-named."""
    found = []
    for split in SPLITS:
        folder = out / split
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise DatasetError(f"-o {folder}: not a folder pixbench wrote; move it away or choose another -o")
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_dir() and not path.is_symlink():
                continue
            rel = path.relative_to(folder).as_posix()
            temp = path.name.startswith(".") and path.name.endswith(".tmp")
            leftover = half_built and _SAMPLE_FILE.fullmatch(rel) is not None
            if path not in listed and not temp and not leftover:
                raise DatasetError(
                    f"-o {out}: {path} was not written by pixbench (not in its manifest); --overwrite "
                    "deletes only what pixbench wrote, so move that file away or choose another -o"
                )
            found.append(path)
    return found


def _remove_empty_split_folders(out: Path) -> None:
    """Remove the split folders, and the folders in them, that are now empty (deepest first)."""
    for split in SPLITS:
        folder = out / split
        for sub in (
            sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) if folder.is_dir() else []
        ):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            folder.rmdir()


def remove_dataset(out: Path) -> None:
    """``--overwrite``: delete what pixbench provably wrote in ``out``, and nothing else.

    Provably pixbench's: a ``dataset.json`` in pixbench's format and the split files its manifest
    lists (for a half-built folder: the files its done records list, sample-named PNGs of an
    interrupted unit and atomic-write temporaries), the working folder, and ``README.md`` /
    ``recipe.yaml`` when they are the ones pixbench writes. Other files at the top level stay. A file
    in a split folder that is not pixbench's, or a ``README.md``/``recipe.yaml`` that is not, would be
    overwritten or mixed into the next dataset, so the overwrite is refused naming it, before
    anything is deleted.

    Raises:
        DatasetError: ``dataset.json`` is not pixbench's, or a file in the way is not pixbench's.
    """
    info_path, state = out / "dataset.json", state_dir(out)
    info = _read_info(out, info_path)
    listed = _manifest_paths(out, info) if info else set()
    if _state_used(state):
        listed |= _record_paths(out)
    cards = _card_paths(out, info)
    in_splits = _split_paths(out, listed, half_built=state.is_dir())
    for path in [*in_splits, *cards, info_path]:
        path.unlink(missing_ok=True)
    _remove_empty_split_folders(out)
    if state.is_dir():
        clear_state(state)
