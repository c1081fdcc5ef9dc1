"""The output folder of a build: deciding fresh/resume/complete, the working state, done records.

While a build runs, its working state lives in ``OUT/.pixbench-build/``: ``build.json``
(what this build is), one *done record* per finished source image under ``done/``
(and, for BlockCNN, its triplet arrays under ``triplets/``). A rerun after an
interruption skips every image that has a record. The folder's presence means
"half-built"; the builder removes it last.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.datasets import BUILD_STATE_DIR, FORMAT_NAME, SPLITS
from pixbench.errors import DatasetError
from pixbench.images import write_bytes_atomic
from pixbench.recipes import Recipe


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
    """Decide what to do with ``out``: ``"fresh"``, ``"resume"`` or ``"complete"``.

    Raises:
        DatasetError: ``out`` holds another dataset (and no ``--overwrite``), or is a
            non-empty folder pixbench did not write (never deleted, even with ``--overwrite``).
    """
    if out.exists() and not out.is_dir():
        raise DatasetError(f"-o {out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return "fresh"
    info_path, state = out / "dataset.json", state_dir(out)
    ours = info_path.is_file() or state.is_dir()
    if not ours:
        raise DatasetError(f"-o {out}: folder is not empty and is not a pixbench dataset; "
                           "choose a new or empty folder (pixbench never deletes folders it did not write)")
    if state.is_dir() and not (state / "build.json").is_file() and not info_path.is_file():
        # killed before the build wrote anything but its working folder
        shutil.rmtree(state)
        return prepare_out(out, key, overwrite)
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


def write_record(state: Path, name: str, record: dict[str, Any],
                 arrays: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
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
