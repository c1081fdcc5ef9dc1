"""``RUN_DIR/curves.png``: training curves drawn after each validation (matplotlib, Agg).

Left: train loss (every epoch) and val loss (validated epochs) against optimiser steps;
right: the validation primary metric against steps. The title names the model, the steps
and the training minutes. matplotlib is imported here, lazily, and through its object API
(``Figure`` + the Agg canvas), so drawing never touches pyplot's global state or backend.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pixbench.images import atomic_output


def _points(history: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for row in history:
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            xs.append(float(row["steps"]))
            ys.append(float(value))
    return xs, ys


def write_curves(path: Path, history: list[dict[str, Any]], *, model: str, metric: str, minutes: float) -> None:
    """Draw ``history`` (rows of ``metrics.csv``) into a small PNG at ``path``, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3), dpi=80)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    for key, style in (("train_loss", "-"), ("val_loss", "o-")):
        xs, ys = _points(history, key)
        if xs:
            left.plot(xs, ys, style, label=key.replace("_", " "), markersize=3)
    left.set_xlabel("steps")
    left.set_ylabel("loss")
    left.legend(loc="upper right", fontsize=8)
    xs, ys = _points(history, metric)
    if xs:
        right.plot(xs, ys, "o-", color="tab:green", markersize=3)
    right.set_xlabel("steps")
    right.set_ylabel(f"val {metric}")
    steps = int(history[-1]["steps"]) if history else 0
    fig.suptitle(f"{model}: {steps} steps, {minutes:.2f} min", fontsize=10)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
