"""Opening a model file: an ONNX file or a pixbench JSON model file, as a :class:`Model`."""

from __future__ import annotations

import os
from pathlib import Path

from pixbench.errors import ModelError
from pixbench.runtime.model import Model
from pixbench.runtime.onnx_model import OnnxModel
from pixbench.runtime.python_model import JsonModel


def load_model(path: str | os.PathLike, *, threads: int | None = None) -> Model:
    """Open an ONNX file, or a pixbench JSON model file (see :mod:`pixbench.runtime.python_model`).

    Raises:
        ModelError: The file is missing, or is neither a loadable ONNX model nor a JSON model file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    if head.startswith(b"{"):
        return JsonModel(path)
    return OnnxModel(path, threads=threads)
