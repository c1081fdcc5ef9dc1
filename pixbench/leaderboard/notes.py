"""Notes written by hand under leaderboard tables: what result files cannot say."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pixbench.results import ResultFileError


def read_notes(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a notes file: a JSON object mapping a table's stem to the notes listed under that table.

    The notes say what result files cannot, for example how long the models were trained.

    Args:
        path: The JSON file, e.g. ``{"detect-v1-kodak": ["Trained for 3 epochs: not converged."]}``.

    Returns:
        The notes per table stem.

    Raises:
        ResultFileError: The file is missing, not JSON, or not an object of string lists.
    """
    where = Path(path)
    try:
        doc = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"--notes {where}: cannot read it as JSON ({exc})") from exc
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v) for k, v in doc.items()
    ):
        raise ResultFileError(
            f"--notes {where}: expected a JSON object mapping table stems to lists of strings, "
            'e.g. {"detect-v1-kodak": ["Trained for 3 epochs."]}'
        )
    return doc
