"""Scoring detectors: raw outputs per crop -> one probability per image -> classification metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pixbench.datasets import Sample
from pixbench.errors import PixbenchError
from pixbench.runtime import InputSpec, Runner

#: How crop scores of a fixed-size classifier become one score per image.
COMBINE_RULE = "mean of the crop probabilities"


@dataclass
class DetectionScores:
    """Per-sample rows, failure counts, and how the raw outputs were read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    output: str = "probability"


def to_probability(raw: np.ndarray, output: str) -> np.ndarray:
    """Turn raw detector outputs ``(n, k)`` into "degraded" probabilities ``(n,)``.

    ``softmax2`` takes class 1 (softmax is applied unless the rows already sum to 1),
    ``logit`` applies the sigmoid, ``probability`` is taken as is.
    """
    raw = raw.astype(np.float64)
    if output == "softmax2":
        if np.all(raw >= 0) and np.allclose(raw.sum(axis=1), 1.0, atol=1e-3):
            return raw[:, 1]
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e[:, 1] / e.sum(axis=1)
    if output == "logit":
        return 1.0 / (1.0 + np.exp(-raw[:, 0]))
    return raw[:, 0]


def resolve_output(declared: str | None, raws: Iterable[np.ndarray]) -> str:
    """How to read a detector's raw outputs: as ``declared``, or, where that is ``auto`` or unset, as
    probabilities if every raw value lies in [0, 1] (or there is none), else as logits."""
    if declared not in (None, "auto"):
        return declared
    every = np.concatenate([np.ravel(r) for r in raws] or [np.zeros(0)])
    return "probability" if every.size == 0 or (every.min() >= 0 and every.max() <= 1) else "logit"


def score_detection(
    runner: Runner, samples: Iterable[Sample], *, columns: list[str], on_sample: Callable[[], None] | None = None
) -> DetectionScores:
    """Run a detector over ``samples``; rows get ``label``, ``score`` (probability) and ``crops``.

    With an ``auto`` output (one unit, no ``pixbench.output`` prop) the outputs are
    read as probabilities if every one lies in [0, 1], else as logits; the choice
    is kept in ``output``.
    """
    scores = DetectionScores()
    raws: list[np.ndarray | None] = []
    for sample in samples:
        row: dict[str, Any] = {
            "sample_id": sample.sample_id,
            "label": sample.label,
            **{c: sample.meta.get(c, "") for c in columns},
            "failure": "",
        }
        raw = None
        try:
            raw = runner.detect_raw(sample.input).astype(np.float64)
            if not np.isfinite(raw).all():
                raise PixbenchError("output holds NaN or Inf")
        except PixbenchError as exc:
            scores.failures[str(exc)] += 1
            row["failure"], raw = str(exc), None
        raws.append(raw)
        row["crops"] = 0 if raw is None else len(raw)
        scores.rows.append(row)
        if on_sample:
            on_sample()
    output = resolve_output(runner.spec.output, [r for r in raws if r is not None])
    scores.output = output
    for row, raw in zip(scores.rows, raws):
        row["score"] = float(to_probability(raw, output).mean()) if raw is not None else float("nan")
    return scores


def detection_metrics(rows: list[dict[str, Any]], columns: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Classification metrics over the scored rows, and the breakdown by each metadata column."""
    from pixbench import metrics

    frame = pd.DataFrame([r for r in rows if not r["failure"]])
    if frame.empty:
        return {}, {}
    labels, scores = frame["label"].to_numpy(int), frame["score"].to_numpy(float)
    overall = metrics.classification_metrics(labels, scores)
    if scores.min() >= 0 and scores.max() <= 1:  # probabilities: how far to trust them (docs/metrics.md)
        calibrated = metrics.calibration(labels, scores)
        overall.update(ece=calibrated["ece"], brier=calibrated["brier"], reliability=calibrated["bins"])
    by = {c: metrics.breakdown(frame, c) for c in columns if c in frame and (frame[c].astype(str) != "").any()}
    return overall, by


def crop_rule(spec: InputSpec, native: tuple[int, ...]) -> str:
    """How a detector sees a ``native``-sized image, in words (recorded as ``model.assumed.crops``)."""
    if spec.tile is None:
        return "whole image (dynamic input)"
    th, tw = spec.tile
    ny = max(1, -(-native[0] // th))
    nx = max(1, -(-native[1] // tw))
    return (
        f"{ny * nx} crops of {th}x{tw} at {native[0]}x{native[1]} (a grid covering the image, last row and "
        f"column aligned to the edge); {COMBINE_RULE}"
    )
