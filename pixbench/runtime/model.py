"""The model interface the evaluator runs: :class:`Model` and its :class:`TensorInfo` inputs and outputs.

An onnxruntime session (:class:`pixbench.runtime.onnx_model.OnnxModel`) and a Python
model file (:class:`pixbench.runtime.python_model.PythonModel`) both fill this small
interface, so everything downstream treats them alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output: name, shape (``None`` = dynamic axis), numpy dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype


class Model:
    """What the evaluator needs from a model. Subclasses fill these fields and :meth:`run`."""

    path: Path
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    props: dict[str, str]
    provider: str = "python"
    threads: int | None = None

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 1e6

    @property
    def params(self) -> int | None:
        return None
