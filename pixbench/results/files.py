"""Result files on disk: writing a :class:`~pixbench.results.document.Result`, reading one back, finding them."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.errors import check_format
from pixbench.images import write_bytes_atomic
from pixbench.results.document import RESULT_FORMAT, RESULT_FORMAT_VERSION, Result, ResultFileError
from pixbench.tasks import TASK_NAMES, TASKS


def json_safe(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN to null, +-inf to the string "inf"/"-inf"."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def result_json(result: Result) -> bytes:
    """The bytes of a result file: :meth:`Result.as_dict` made JSON-safe (:func:`json_safe`), indented by 2."""
    return (json.dumps(json_safe(result.as_dict()), indent=2, allow_nan=False) + "\n").encode()


def write_result(path: str | os.PathLike, result: Result) -> None:
    """Write a result file atomically (:func:`result_json`)."""
    write_bytes_atomic(Path(path), result_json(result))


#: Keys that name what was scored on what; a leaderboard sorts and groups by them.
_IDENTITY = (("model", "name", str), ("model", "sha256", str), ("dataset", "fingerprint", str))


def read_result(path: Path) -> Result:
    """Read and validate one result file.

    Raises:
        ResultFileError: The file is not JSON, not a pixbench result, of another
            format version, or lacks a key the leaderboard needs.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: unreadable result file: {exc}") from None
    check_format(
        doc,
        name=RESULT_FORMAT,
        version=RESULT_FORMAT_VERSION,
        where=str(path),
        kind="result file",
        error=ResultFileError,
    )
    task = doc.get("task")
    if task is not None and (not isinstance(task, str) or task not in TASKS):
        raise ResultFileError(f"{path}: unknown task {task!r}; expected one of {', '.join(TASK_NAMES)}")
    result = Result.from_dict(doc, where=str(path))
    result.path = path
    for section, key, kind in _IDENTITY:
        if not isinstance(getattr(getattr(result, section), key), kind):
            raise ResultFileError(f"{path}: {section}.{key} must be a {kind.__name__} (see docs/result-format.md)")
    version = result.dataset.recipe.version
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultFileError(f"{path}: dataset.recipe.version must be an integer, got {version!r}")
    return result


def collect_result_files(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and folders into result files, sorted and without duplicates.

    Files given by name must be result files. In folders, ``*.json`` files are
    searched recursively and those that are not pixbench results (for example a
    ``dataset.json``) are passed over.

    Raises:
        ResultFileError: An input does not exist, or no result file was found.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        path = Path(item)
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            for candidate in sorted(path.rglob("*.json")):
                if candidate.is_file() and _looks_like_result(candidate):
                    found[candidate] = None
        else:
            raise ResultFileError(f"RESULTS: {path} is neither a result file nor a folder")
    if not found:
        names = ", ".join(str(i) for i in inputs) or "(nothing)"
        raise ResultFileError(f"RESULTS: no pixbench result files found in {names}; run `pixbench evaluate` first")
    return sorted(found, key=lambda p: p.resolve().as_posix())


def _looks_like_result(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return f'"{RESULT_FORMAT}"' in head
