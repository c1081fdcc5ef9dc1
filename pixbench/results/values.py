"""Numbers out of a result: metric values by key (with the other spellings files may use), training time, speed."""

from __future__ import annotations

import json
import math
from typing import Any

from pixbench.results.document import Result


def number(value: Any) -> float | None:
    """A metric value as a float: plain numbers, ``{"mean": x}`` aggregates, ``"inf"``; else None."""
    if isinstance(value, dict):
        value = value.get("mean")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity", "+inf"):
        return math.inf
    return None


#: Other spellings of a metric key that result files may use; the first present wins.
METRIC_ALIASES = {"fpr": ("fpr", "fp_rate"), "psnr_full": ("psnr_full", "psnr"), "psnr_b": ("psnr_b", "psnrb")}


def metric(metrics: dict[str, Any], key: str) -> float | None:
    """Look up a metric by its key or one of its :data:`METRIC_ALIASES`."""
    for name in METRIC_ALIASES.get(key, (key,)):
        value = number(metrics.get(name))
        if value is not None:
            return value
    return None


def result_value(result: Result, key: str, *, who: str = "model") -> float | None:
    """A metric of the model (``who="model"``) or of the degraded input (``"degraded"``).

    Keys ``triplets.<name>`` read the scores on a blockwise dataset's own blocks (``metrics.triplets``).
    """
    if key.startswith("triplets."):
        triplets = result.metrics.triplets
        node = (triplets.model if who == "model" else triplets.degraded) if triplets else {}
        return metric(node or {}, key.removeprefix("triplets."))
    return metric(result.model_metrics if who == "model" else result.degraded_metrics, key)


def training_record(result: Result) -> dict[str, Any] | None:
    """The model's ``pixbench.training`` prop (a JSON object, ``docs/onnx-metadata.md``) as a dict, else None."""
    props = result.model.props
    text = props.get("pixbench.training") if isinstance(props, dict) else None
    try:
        info = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return None
    return info if isinstance(info, dict) else None


def _minutes(info: dict[str, Any], key: str) -> float | None:
    minutes = number(info.get(key))
    return minutes if minutes is not None and math.isfinite(minutes) and minutes >= 0 else None


def training_minutes(result: Result) -> float | None:
    """Minutes the model trained: the whole run (``run_minutes``) where recorded, else the kept checkpoint's ``minutes``.

    Records written before whole-run totals existed hold only ``minutes``, the training clock up
    to the kept (best-validation) checkpoint; :func:`whole_run_recorded` tells the two apart.
    """
    info = training_record(result)
    if info is None:
        return None
    whole = _minutes(info, "run_minutes")
    return whole if whole is not None else _minutes(info, "minutes")


def whole_run_recorded(result: Result) -> bool:
    """Whether the training record has the whole run's totals (``run_minutes``), not only the kept checkpoint's."""
    info = training_record(result)
    return info is not None and _minutes(info, "run_minutes") is not None


def seconds_per_frame(result: Result) -> float | None:
    """Median seconds per 1080p frame: the recorded latency, else 1 / FPS; None without a speed."""
    speed = result.speed
    if speed is None:
        return None
    latency = number(speed.latency_ms_median_1080p)
    if latency is not None and latency > 0:
        return latency / 1000.0
    fps = number(speed.fps_1080p)
    return 1.0 / fps if fps is not None and fps > 0 else None
