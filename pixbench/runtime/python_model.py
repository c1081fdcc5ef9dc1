"""Python model files: models ONNX cannot express, run with the same interface as ONNX sessions.

A Python model file is a small JSON document

```json
{"format": "pixbench-python-model", "format_version": 1, "baseline": "biharmonic",
 "props": {"pixbench.task": "inpaint", ...}}
```

whose ``baseline`` names a function in :data:`PYTHON_MODELS` (biharmonic inpainting,
an iterative solver, is the one there). :func:`pixbench.runtime.loading.load_model`
turns such a file into a :class:`PythonModel` with the same inputs, outputs and props
interface as an onnxruntime session. :mod:`pixbench.baselines` writes these files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pixbench.errors import ModelError
from pixbench.registry import Registry
from pixbench.runtime.model import Model, TensorInfo

PYTHON_MODEL_FORMAT = "pixbench-python-model"


def _biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    return inpaint_biharmonic(image, mask, channel_axis=-1).astype(np.float32)


#: Python model functions: ``(HxWx3 float [0,1], HxW bool hole mask) -> HxWx3 float [0,1]``.
PYTHON_MODELS: Registry[Callable[[np.ndarray, np.ndarray], np.ndarray]] = Registry("python model")
PYTHON_MODELS.register("biharmonic", _biharmonic)


class PythonModel(Model):
    """A Python model file (see the module docstring), run with the same interface as ONNX sessions.

    Inputs are ``image`` ``[N,H,W,3]`` float in [0, 1] and ``mask`` ``[N,H,W,1]``
    (1 = hole); the output is ``[N,H,W,3]``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{self.path}: unreadable Python model file: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != PYTHON_MODEL_FORMAT or doc.get("format_version") != 1:
            raise ModelError(f"{self.path}: not a {PYTHON_MODEL_FORMAT} file (format_version 1)")
        self.fn = PYTHON_MODELS.get(str(doc.get("baseline")))
        self.props = {k: str(v) for k, v in sorted(doc.get("props", {}).items()) if k.startswith("pixbench.")}
        f32 = np.dtype(np.float32)
        self.inputs = [TensorInfo("image", (None, None, None, 3), f32), TensorInfo("mask", (None, None, None, 1), f32)]
        self.outputs = [TensorInfo("output", (None, None, None, 3), f32)]
        self.provider, self.threads = "python", 1

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        images, masks = feeds["image"], feeds["mask"]
        try:
            return [np.stack([self.fn(img, m[..., 0] > 0.5) for img, m in zip(images, masks)])]
        except ValueError as exc:  # e.g. a mask with no known pixel left
            raise ModelError(f"{self.path.name}: {exc}") from None

    @property
    def params(self) -> int:
        return 0
