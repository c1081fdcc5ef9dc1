"""A dataset's manifest and fingerprint: the one formula, the checks of the file list, and datasets without one.

The manifest (``dataset.json`` key ``files``) maps every split file, by its path relative to the
dataset folder, to the SHA-256 of its bytes; in the Parquet layout the sample images and
``metadata.csv`` it lists live inside the shards (:mod:`pixbench.dataset_shards`), with the same
bytes and so the same hashes. The fingerprint follows from the manifest by :func:`fingerprint_of`.
``docs/integrity.md`` says what is verified and when.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from pixbench.dataset_shards import check_layout
from pixbench.errors import DatasetError
from pixbench.images import file_sha256

SPLITS = ("train", "val", "test")
#: ``dataset.json`` key of the manifest: every split file's path (relative to the folder) -> SHA-256.
MANIFEST_KEY = "files"
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: ``dataset.json``'s ``recipe`` keys and their JSON types (exact: a ``true`` version is not an int).
_RECIPE_KEYS = {"name": str, "version": int, "sha256": str}
_REBUILD = "the dataset was modified after it was built — rebuild it"


def fingerprint_of(files: Mapping[str, str], recipe_sha256: str, *, split: str | None = None) -> str:
    """``sha256:<hex>`` of a dataset: the recipe hash, the forced split and every ``<path> <sha256>`` line, sorted.

    This is the one formula for a dataset's fingerprint; the builder computes it from the
    files it wrote, the reader recomputes it from the manifest. The ``split`` line is only
    hashed when a split was forced, so builds by fractions keep the fingerprints they always had.
    """
    digest = hashlib.sha256(f"recipe {recipe_sha256}\n".encode())
    if split is not None:
        digest.update(f"split {split}\n".encode())
    for rel in sorted(files):
        digest.update(f"{rel} {files[rel]}\n".encode())
    return "sha256:" + digest.hexdigest()


def split_file_hashes(root: Path, *, skip: Callable[[str], bool] | None = None) -> dict[str, str]:
    """Every file under ``root``'s split folders (but those whose name ``skip`` picks): path relative to
    ``root`` -> SHA-256, sorted by path."""
    paths = sorted(
        (p.relative_to(root).as_posix(), p)
        for s in SPLITS
        if (root / s).is_dir()
        for p in (root / s).rglob("*")
        if p.is_file() and (skip is None or not skip(p.name))
    )
    return {rel: file_sha256(path) for rel, path in paths}


def check_info(info: dict[str, Any], where: Path) -> None:
    """``dataset.json``'s keys and types, one line for the first that is wrong."""
    recipe = info.get("recipe")
    if not isinstance(recipe, dict) or any(type(recipe.get(k)) is not t for k, t in _RECIPE_KEYS.items()):
        raise DatasetError(
            f'{where}: key \'recipe\' must be {{"name": str, "version": int, "sha256": str}}, '
            f"got {json.dumps(recipe)[:80]}; {_REBUILD}"
        )
    if not isinstance(info.get("fingerprint"), str) or not info["fingerprint"].startswith("sha256:"):
        raise DatasetError(
            f"{where}: key 'fingerprint' must be 'sha256:<hex>', got {info.get('fingerprint')!r}; {_REBUILD}"
        )
    build = info.get("build", {})
    if not isinstance(build, dict) or build.get("split") not in (None, *SPLITS):
        raise DatasetError(
            f"{where}: key 'build' must be an object whose 'split' is null or one of {', '.join(SPLITS)}; {_REBUILD}"
        )
    check_layout(info, where, MANIFEST_KEY)
    files = info.get(MANIFEST_KEY)
    if files is None:
        return
    if not isinstance(files, dict):
        raise DatasetError(f"{where}: key {MANIFEST_KEY!r} must map file paths to SHA-256 hashes; {_REBUILD}")
    for rel, sha in files.items():
        parts = PurePosixPath(rel).parts
        if (
            len(parts) < 2
            or parts[0] not in SPLITS
            or ".." in parts
            or "\\" in rel
            or not isinstance(sha, str)
            or not _HEX64.fullmatch(sha)
        ):
            raise DatasetError(
                f"{where}: manifest entry {rel!r}: {sha!r} is not '<split>/<path>': '<64 hex digits>'; {_REBUILD}"
            )


def verified_manifest(root: Path, info: dict[str, Any], info_path: Path) -> dict[str, str]:
    """The verified file list: the recorded one when its fingerprint holds; for a dataset built before
    pixbench recorded one, the files on disk when their fingerprint equals the recorded one."""
    split = (info.get("build") or {}).get("split")
    recorded = info.get(MANIFEST_KEY)
    if recorded is not None:
        if fingerprint_of(recorded, info["recipe"]["sha256"], split=split) != info["fingerprint"]:
            raise DatasetError(
                f"{info_path}: fingerprint {info['fingerprint'][:23]}... does not follow from the "
                f"file list beside it (the manifest was edited); {_REBUILD}"
            )
        return dict(recorded)
    try:
        files = split_file_hashes(root)
    except OSError as exc:
        raise DatasetError(f"{root}: cannot read its files: {exc}") from None
    if fingerprint_of(files, info["recipe"]["sha256"], split=split) != info["fingerprint"]:
        raise DatasetError(
            f"{root}: its files do not match the fingerprint in dataset.json (built by pixbench "
            f"{info.get('pixbench_version')}, before datasets listed their files, so the changed "
            f"file cannot be named); {_REBUILD}"
        )
    return files
