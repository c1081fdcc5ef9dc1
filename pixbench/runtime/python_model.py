"""JSON model files: models ONNX cannot express, run with the same interface as ONNX sessions.

A JSON model file is a small JSON document that names a Python function of pixbench:

```json
{"format": "pixbench-python-model", "format_version": 1, "baseline": "biharmonic",
 "props": {"pixbench.task": "inpaint", ...}}
```

Its ``baseline`` names the function in :data:`PYTHON_MODELS` (biharmonic inpainting, an
iterative solver, is the one there); the file holds no weights and no code. The format
name, ``pixbench-python-model``, is kept as written in published files.
:func:`pixbench.runtime.loading.load_model` turns such a file into a :class:`JsonModel` with
the same inputs, outputs and props interface as an onnxruntime session.
:mod:`pixbench.baselines` writes these files. ``PythonModel`` is the class's earlier name,
kept as an alias.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.errors import ModelError, shorten
from pixbench.registry import Registry
from pixbench.runtime.model import Model, TensorInfo

PYTHON_MODEL_FORMAT = "pixbench-python-model"
#: Largest JSON model file read (the ones :mod:`pixbench.baselines` writes are under 1 KiB).
MAX_PYTHON_MODEL_BYTES = 1 << 20


def _biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    return inpaint_biharmonic(image, mask, channel_axis=-1).astype(np.float32)


#: The functions a JSON model file may name: ``(HxWx3 float [0,1], HxW bool hole mask) -> HxWx3 float [0,1]``.
PYTHON_MODELS: Registry[Callable[[np.ndarray, np.ndarray], np.ndarray]] = Registry("python model")
PYTHON_MODELS.register("biharmonic", _biharmonic)


def read_json_model(path: Path) -> dict[str, Any]:
    """Read and check a JSON model file: a JSON object with the fields and types above.

    Raises:
        ModelError: One line naming the file and the field that is wrong, with what would work.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PYTHON_MODEL_BYTES + 1)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read JSON model file: {exc.strerror or exc}") from None
    if len(raw) > MAX_PYTHON_MODEL_BYTES:
        raise ModelError(f"{path}: larger than {MAX_PYTHON_MODEL_BYTES} bytes; not a {PYTHON_MODEL_FORMAT} file")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelError(
            f"{path}: not UTF-8 text (byte at offset {exc.start}); not a {PYTHON_MODEL_FORMAT} file"
        ) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ModelError(f"{path}: not valid JSON{where}: {reason}; expected a {PYTHON_MODEL_FORMAT} file") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: expected a JSON object ({PYTHON_MODEL_FORMAT}), got a JSON {type(doc).__name__}")
    if doc.get("format") != PYTHON_MODEL_FORMAT:
        raise ModelError(f"{path}: not a {PYTHON_MODEL_FORMAT} file (format is {shorten(doc.get('format'))})")
    version = doc.get("format_version")
    if type(version) is not int or version != 1:  # noqa: E721 (True is not version 1)
        raise ModelError(f"{path}: format_version {shorten(version)} is not supported (this pixbench reads 1)")
    extra = sorted(set(doc) - {"format", "format_version", "baseline", "props"})
    if extra:
        raise ModelError(f"{path}: unknown field {shorten(extra[0])}; allowed: format, format_version, baseline, props")
    baseline = doc.get("baseline")
    if not isinstance(baseline, str) or baseline not in PYTHON_MODELS:
        raise ModelError(f"{path}: baseline {shorten(baseline)} is not one of {', '.join(PYTHON_MODELS.names())}")
    props = doc.setdefault("props", {})
    if not isinstance(props, dict):
        raise ModelError(f'{path}: props must be a JSON object of "pixbench.*" keys, got a JSON {type(props).__name__}')
    for key, value in props.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ModelError(f"{path}: props[{shorten(key)}] must be a string or a number, got {shorten(value)}")
    return doc


class JsonModel(Model):
    """A JSON model file (see the module docstring), run with the same interface as ONNX sessions.

    Inputs are ``image`` ``[N,H,W,3]`` float in [0, 1] and ``mask`` ``[N,H,W,1]``
    (1 = hole); the output is ``[N,H,W,3]``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        doc = read_json_model(self.path)
        self.fn = PYTHON_MODELS.get(doc["baseline"])
        self.props = {k: str(v) for k, v in sorted(doc["props"].items()) if k.startswith("pixbench.")}
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


#: The earlier name of :class:`JsonModel` (exported by :mod:`pixbench.runtime`).
PythonModel = JsonModel
