"""Numbers out of a result: metric values by key (with the other spellings files may use), training time."""

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


def training_minutes(result: Result) -> float | None:
    """Minutes the model trained, from its ``pixbench.training`` prop (a JSON object with ``minutes``); else None."""
    props = result.model.props
    text = props.get("pixbench.training") if isinstance(props, dict) else None
    try:
        info = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return None
    minutes = number(info.get("minutes")) if isinstance(info, dict) else None
    return minutes if minutes is not None and math.isfinite(minutes) and minutes >= 0 else None
