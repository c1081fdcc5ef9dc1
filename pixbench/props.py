"""The ``pixbench.*`` metadata props of a model file: one type, checked and written in one place.

Every producer of a model file describes the model as a :class:`ModelProps` and writes it
through :meth:`ModelProps.metadata` (the ``{key: value}`` strings) or :meth:`ModelProps.write`
(an ONNX model's ``metadata_props``): ``pixbench export``, the classical baselines, the grid
detector graph, the grid upscaler graphs and ``pixbench combine``. A value the evaluator would refuse is refused
here, when the file is made, with the same allowed values
(:data:`pixbench.runtime.resolve.PROP_CHOICES`, ``docs/onnx-metadata.md``).

The key order is part of a file's bytes, and the published model files were written in
one order per producer; each producer names its order (:data:`EXPORT_ORDER`,
:data:`BASELINE_ORDER`, :data:`GRID_DETECTOR_ORDER`, :data:`GRID_UPSCALER_ORDER`,
:data:`COMBINED_ORDER`), so a file rebuilt today has the bytes of the published one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from pixbench import __version__
from pixbench.errors import ModelError, shorten
from pixbench.runtime.resolve import MAX_SCALE, PROP_CHOICES
from pixbench.tasks import TASK_NAMES

#: Every key is written as ``pixbench.<field>``.
PREFIX = "pixbench."
#: ``pixbench export``: the image contract, then what the model is, then where it came from.
EXPORT_ORDER = (
    "task",
    "layout",
    "range",
    "channels",
    "model",
    "model_args",
    "version",
    "input",
    "scale",
    "mask_input",
    "output",
    "dataset_fingerprint",
    "recipe",
    "training",
)
#: The classical baselines (``pixbench baseline``, ONNX graphs and JSON model files).
BASELINE_ORDER = ("task", "model", "layout", "range", "channels", "input", "scale", "mask_input", "output", "version")
#: The analytic detector graph (``grid-detector.onnx``).
GRID_DETECTOR_ORDER = ("task", "layout", "range", "channels", "output", "model", "version")
#: Two models combined into one graph by a rule (``pixbench combine``); ``model_args`` names the members.
COMBINED_ORDER = ("task", "layout", "range", "channels", "output", "model", "model_args", "version")
#: The grid upscaler graphs (``grid-upscaler-x{s}.onnx``, ``grid-upscaler-hq-x{s}.onnx``).
GRID_UPSCALER_ORDER = ("task", "layout", "range", "channels", "input", "model", "version", "model_args")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII: the form of ``pixbench.training`` (``docs/onnx-metadata.md``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class ModelProps:
    """What a model file says about itself (``docs/onnx-metadata.md``); ``None`` leaves a key out.

    Attributes:
        task: The task the model solves (a name in :data:`pixbench.tasks.TASKS`).
        model: Model name (the registry name for reference models).
        layout: ``nchw`` or ``nhwc``.
        range: ``01``, ``11`` or ``255``.
        channels: ``rgb`` or ``y``.
        input: ``full`` or ``lowres``, for a task whose samples carry the low-res grid.
        scale: Upscale factor of a ``lowres`` model, 1 to 64.
        mask_input: ``channel``, ``separate`` or ``none``, for a task whose samples carry a mask.
        output: What a detector's output holds: ``probability``, ``logit``, ``softmax2`` or ``auto``.
        model_args: Every constructor option, written as JSON with sorted keys.
        dataset_fingerprint: ``sha256:...`` of the dataset the model was trained on.
        recipe: That dataset's recipe as ``name@version``.
        training: How the model was trained, written as canonical JSON (:func:`canonical_json`).
        version: The pixbench version that wrote the file.

    Raises:
        ModelError: A value the evaluator would refuse, naming the prop, its value and what is allowed.
    """

    task: str
    model: str
    layout: str = "nchw"
    range: str = "01"
    channels: str = "rgb"
    input: str | None = None
    scale: int | None = None
    mask_input: str | None = None
    output: str | None = None
    model_args: dict[str, Any] | None = None
    dataset_fingerprint: str | None = None
    recipe: str | None = None
    training: dict[str, Any] | None = None
    version: str = __version__

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            _refuse("task", self.task, f"not one of {', '.join(TASK_NAMES)}")
        for key, allowed in PROP_CHOICES.items():
            value = getattr(self, key)
            if value is not None and value not in allowed:
                _refuse(key, value, f"not one of {', '.join(allowed)}")
        if self.scale is not None and (
            isinstance(self.scale, bool) or not isinstance(self.scale, int) or not 1 <= self.scale <= MAX_SCALE
        ):
            _refuse("scale", self.scale, f"not a whole number from 1 to {MAX_SCALE} (the model's upscale factor)")
        for key in ("model", "version"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                _refuse(key, getattr(self, key), "not a non-empty string")
        if self.dataset_fingerprint is not None and not str(self.dataset_fingerprint).startswith("sha256:"):
            _refuse("dataset_fingerprint", self.dataset_fingerprint, "not a 'sha256:...' fingerprint")
        if self.recipe is not None and (not isinstance(self.recipe, str) or "@" not in self.recipe):
            _refuse("recipe", self.recipe, "not 'name@version'")
        for key in ("model_args", "training"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), dict):
                _refuse(key, getattr(self, key), "not a JSON object (a dict)")

    def metadata(self, order: tuple[str, ...]) -> dict[str, str]:
        """The ``pixbench.*`` props as strings, in ``order`` (a producer's key order), unset keys left out.

        Raises:
            ModelError: A key that is set is missing from ``order`` (it would be dropped silently).
        """
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        missing = [key for key, value in values.items() if value is not None and key not in order]
        if missing:
            raise ModelError(f"model props: {', '.join(missing)} set but not in the key order {order}")
        return {PREFIX + key: _text(key, values[key]) for key in order if values[key] is not None}

    def write(self, proto: Any, order: tuple[str, ...]) -> dict[str, str]:
        """Replace the ``metadata_props`` of an ONNX ``ModelProto`` with these props; return them.

        The same entries, in the same order, as ``onnx.helper.set_model_props(proto, self.metadata(order))``.
        """
        props = self.metadata(order)
        del proto.metadata_props[:]
        for key, value in props.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        return props


def _text(key: str, value: Any) -> str:
    if key == "model_args":
        return json.dumps(value, sort_keys=True)
    if key == "training":
        return canonical_json(value)
    return str(value)


def _refuse(key: str, value: Any, why: str) -> None:
    raise ModelError(f"metadata prop {PREFIX}{key}={shorten(value)} is {why} (docs/onnx-metadata.md)")
