"""What a build does with a folder that is already there: resume it, confirm it, or (``--overwrite``) replace it.

:func:`prepare_out` compares the folder's build key with the new build's. ``--overwrite`` deletes
only what pixbench provably wrote (:func:`remove_dataset`): a dataset's manifest (for the Parquet
layout, its shards), a half-built folder's done records, the files the assembly writes, and the
working folder; anything else in the way refuses the overwrite before anything is deleted.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from pixbench.builder.output import clear_state, refuse_foreign, state_dir, state_used
from pixbench.dataset_shards import SHARDS_KEY, in_shards, is_shard_name
from pixbench.datasets import (
    BUILD_STATE_DIR,
    FORMAT_NAME,
    LAYOUTS,
    MANIFEST_KEY,
    SPLITS,
    fingerprint_of,
    split_file_hashes,
)
from pixbench.errors import DatasetError

#: A file an interrupted build may leave in a split folder: a sample file as
#: :func:`pixbench.builder.samples.process_item` names it (``<kind>/<16 hex>-<4 digits>.png``), or one the
#: assembly writes (``metadata.csv``, the BlockCNN files; a Parquet shard is checked by :func:`is_shard_name`).
_LEFTOVER = re.compile(
    r"(input|target|lowres|mask)/[0-9a-f]{16}-[0-9]{4}\.png|metadata\.csv|triplets(_input\.npy|_target\.npy|\.csv)"
)


def prepare_out(out: Path, key: dict[str, Any], overwrite: bool) -> str:
    """Decide what to do with ``out``: ``"fresh"``, ``"resume"`` or ``"complete"``; call it holding :func:`build_lock`.

    Raises:
        DatasetError: ``out`` holds another dataset (and no ``--overwrite``), or is a
            non-empty folder pixbench did not write (never deleted, even with ``--overwrite``),
            or ``--overwrite`` would have to delete a file pixbench did not write (see :func:`remove_dataset`).
    """
    refuse_foreign(out)
    info_path, state = out / "dataset.json", state_dir(out)
    used = state_used(state)
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
            f"split {old.get('split') or 'by fractions'}, format {old.get('format', LAYOUTS[0])}"
            if isinstance(old, dict)
            else "an unknown build"
        )
        raise DatasetError(
            f"-o {out}: already holds a different dataset ({what}); "
            "pass --overwrite to replace it or choose another folder"
        )
    remove_dataset(out)
    return "fresh"


def _manifest_paths(out: Path, info: dict[str, Any]) -> set[Path]:
    """The split files a finished pixbench dataset lists (for one built before manifests: its files, when
    they still match its fingerprint; for a Parquet one: its shards and the files beside them)."""
    files = info.get(MANIFEST_KEY)
    if info.get("layout") == LAYOUTS[1] and isinstance(files, dict) and isinstance(info.get(SHARDS_KEY), dict):
        on_disk = [rel for rel in files if not in_shards(str(rel).partition("/")[2])]
        files = dict.fromkeys([*on_disk, *info[SHARDS_KEY]], "")
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
            leftover = half_built and (_LEFTOVER.fullmatch(rel) is not None or is_shard_name(rel))
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
    interrupted unit, files the assembly writes and atomic-write temporaries), the working folder, and ``README.md`` /
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
    if state_used(state):
        listed |= _record_paths(out)
    cards = _card_paths(out, info)
    in_splits = _split_paths(out, listed, half_built=state.is_dir())
    for path in [*in_splits, *cards, info_path]:
        path.unlink(missing_ok=True)
    _remove_empty_split_folders(out)
    if state.is_dir():
        clear_state(state)
