"""``pixbench evaluate``: score any ONNX model (or Python model file) on a built dataset.

:func:`evaluate` checks everything that can be checked cheaply first (the
dataset, the model file, how to feed the model, a probe run, the depixelation
factor), then scores the split, measures speed, and writes the result JSON with
the per-sample CSV and, for restoration tasks, the crops strip beside it. The
format is described in ``docs/result-format.md`` and the behaviour in
``docs/evaluate.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError, ModelError, PixbenchError
from pixbench.evaluation import detect as det
from pixbench.evaluation import report
from pixbench.evaluation import restore as rest
from pixbench.images import encode_png, write_bytes_atomic
from pixbench.runtime import Runner, load_model, resolve_spec

RESULT_FORMAT, RESULT_FORMAT_VERSION = "pixbench-result", 1
#: Metadata columns results are broken down by, where the dataset has them.
BREAKDOWN_COLUMNS = ("factor", "down_kernel", "up_kernel", "quality", "negative_kind")


@dataclass
class EvaluateOptions:
    """Everything that changes what :func:`evaluate` measures (all recorded in ``settings``)."""

    split: str = "test"
    limit: int | None = None
    factor: int | None = None
    layout: str | None = None
    range: str | None = None
    channels: str | None = None
    overlap: int = 32
    threads: int | None = None
    lpips: bool = True
    speed: bool = True
    warmup: int = 2
    runs: int = 10


#: Progress callback: ``(phase, done, total)``.
Progress = Callable[[str, int, int], None]


def default_output(model_path: str | Path, dataset_path: str | Path) -> Path:
    """``results/<model stem>--<dataset folder>.json``."""
    return Path("results") / f"{Path(model_path).stem}--{Path(dataset_path).resolve().name}.json"


def evaluate(model_path: str | Path, dataset_path: str | Path, output: str | Path,
             options: EvaluateOptions | None = None, *, progress: Progress | None = None,
             on_ready: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Evaluate a model on a dataset split and write ``output`` (JSON) plus its companions.

    Args:
        model_path: An ``.onnx`` file or a Python model file (see :mod:`pixbench.baselines`).
        dataset_path: A folder written by ``pixbench build-dataset``.
        output: Where the result JSON goes; ``<stem>.samples.csv`` and
            ``<stem>.crops.png`` (restoration) are written beside it.
        options: What to measure; defaults as in :class:`EvaluateOptions`.
        progress: Called as work advances, for a progress bar.
        on_ready: Called once the model has been resolved and probed, with the
            model section of the result (so the caller can show what was assumed
            before the long work starts).

    Returns:
        The result document that was written.

    Raises:
        DatasetError: The dataset is missing, half-built, not pixbench's, or lacks the split.
        ModelError: The model cannot be loaded or cannot fit the task (raised before scoring).
    """
    opts = options or EvaluateOptions()
    if opts.limit is not None and opts.limit < 1:
        raise PixbenchError(f"--limit {opts.limit} must be at least 1")
    dataset = open_dataset(dataset_path)
    split = dataset.split(opts.split)
    task = dataset.task
    model = load_model(model_path, threads=opts.threads)
    spec = resolve_spec(model, task, layout=opts.layout, range_=opts.range, channels=opts.channels)
    runner = Runner(model, spec, overlap=opts.overlap)
    indices = _select(split, opts, dataset.root)
    n = len(indices)
    columns = [c for c in BREAKDOWN_COLUMNS if c in split.metadata.columns]
    _check_inputs(spec, split.metadata.iloc[indices], model.path.name)
    model_doc = {
        "name": model.props.get("pixbench.model") or model.path.stem, "file": model.path.name,
        "sha256": model.sha256, "size_mb": round(model.size_mb, 6), "params": model.params,
        "flops_1080p": None, "props": model.props, "assumed": spec.assumed(), "assumed_from": spec.sources,
    }
    if on_ready:
        on_ready(model_doc)

    def tick(phase: str, total: int) -> Callable[[], None]:
        count = [0]

        def step() -> None:
            count[0] += 1
            if progress:
                progress(phase, count[0], total)
        return step

    samples = (split[i] for i in indices)
    doc: dict[str, Any] = {"format": RESULT_FORMAT, "format_version": RESULT_FORMAT_VERSION, "task": task}
    out = Path(output)
    stem = out.name[:-5] if out.name.endswith(".json") else out.name
    native = tuple(split[indices[0]].input.shape[:2])
    if task == "detect":
        scores = det.score_detection(runner, samples, columns=columns, on_sample=tick("scoring", n))
        overall, by = det.detection_metrics(scores.rows, columns)
        spec.output = scores.output
        model_doc["assumed"] = spec.assumed()
        rows, failures = scores.rows, scores.failures
        doc_metrics: dict[str, Any] = {"model": overall}
        doc_breakdown = by
        model_doc["assumed"]["crops"] = _crop_rule(spec, native)
        doc_metrics["crops_per_image"] = sorted({r["crops"] for r in rows if r["crops"]})
    else:
        scores = rest.score_restoration(runner, task, samples, columns=columns, use_lpips=opts.lpips,
                                        on_sample=tick("scoring", n))
        rows, failures = scores.rows, scores.failures
        doc_metrics = _restoration_means(rows, scores.lpips_note)
        doc_breakdown = _restoration_breakdown(rows, columns)
        if task == "blockcnn":
            contexts, targets = split.triplets()
            m = len(contexts) if opts.limit is None else min(len(contexts), opts.limit * 16)
            doc_metrics["triplets"] = rest.score_triplets(runner, contexts[:m], targets[:m])
        if scores.crops:
            strip, side = rest.crops_strip(scores.crops)
            crops_name = f"{stem}.crops.png"
            write_bytes_atomic(out.parent / crops_name, encode_png(strip))
            doc["crops"] = {"file": crops_name, "size": side, "samples": [c[0] for c in scores.crops],
                            "rows": ["degraded", "model", "target"]}
    model_doc["flops_1080p"] = report.estimate_flops(model, spec, *report.FULL_HD)
    speed = None
    if opts.speed:
        if progress:
            progress("timing", 0, 1)
        speed = report.measure_speed(runner, native, warmup=opts.warmup, runs=opts.runs)
        if progress:
            progress("timing", 1, 1)
    csv_name = f"{stem}.samples.csv"
    write_bytes_atomic(out.parent / csv_name, pd.DataFrame(rows).to_csv(index=False).encode())
    accuracy = doc_metrics.get("model", {}).get("accuracy")
    doc.update({
        "model": model_doc,
        "dataset": {"path": dataset.root.resolve().name, "fingerprint": dataset.fingerprint,
                    "recipe": {"name": dataset.recipe_name, "version": dataset.recipe_version},
                    "source": (dataset.info.get("source") or {}).get("name"), "split": opts.split,
                    "samples": n, "split_samples": len(split)},
        "settings": {"split": opts.split, "limit": opts.limit, "factor": opts.factor, "tile": list(spec.tile) if spec.tile else None,
                     "overlap": opts.overlap if spec.tile and not spec.blockwise else None,
                     "overrides": {"layout": opts.layout, "range": opts.range, "channels": opts.channels},
                     "lpips": opts.lpips, "speed_warmup": opts.warmup, "speed_runs": opts.runs},
        "metrics": doc_metrics,
        "breakdown": doc_breakdown,
        "failures": {"count": int(sum(failures.values())), "reasons": dict(sorted(failures.items()))},
        "speed": speed,
        "targets": report.targets(task, accuracy, model_doc["size_mb"], speed and speed.get("fps_1080p")),
        "environment": report.environment(model),
        "per_sample": csv_name,
    })
    write_bytes_atomic(out, (json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n").encode())
    return doc


def _select(split: Any, opts: EvaluateOptions, root: Path) -> list[int]:
    """Indices of the samples to score: those of ``--factor`` (if given), then the first ``--limit``."""
    meta = split.metadata
    indices = list(range(len(meta)))
    if opts.factor is not None:
        if "factor" not in meta.columns:
            raise DatasetError(f"{root}: --factor {opts.factor} given, but this dataset has no factor column")
        indices = [i for i in indices if str(meta["factor"].iloc[i]) == str(opts.factor)]
        if not indices:
            have = sorted({str(f) for f in meta["factor"] if str(f)})
            raise DatasetError(f"{root}: no {opts.split!r} samples with factor {opts.factor}; "
                               f"factors present: {', '.join(have) or 'none'}")
    if not indices:
        raise DatasetError(f"{root}: split {opts.split!r} has no samples")
    return indices if opts.limit is None else indices[:opts.limit]


def _check_inputs(spec: Any, meta: pd.DataFrame, name: str) -> None:
    """Fail before scoring when the dataset cannot give the model what it wants."""
    if spec.input != "lowres":
        return
    if "lowres_file_name" not in meta.columns or (meta["lowres_file_name"] == "").any():
        raise ModelError(f"{name}: the model takes the low-res grid (pixbench.input=lowres) but this dataset "
                         "has no lowres images")
    factors = sorted({str(f) for f in meta.get("factor", pd.Series(dtype=str)) if str(f) != ""})
    if factors != [str(spec.scale)]:
        raise ModelError(f"{name}: the model upscales by {spec.scale} (pixbench.scale) but the dataset's "
                         f"factors are {', '.join(factors) or 'unknown'}; pass --factor {spec.scale} to score only those samples")


def _crop_rule(spec: Any, native: tuple[int, ...]) -> str:
    if spec.tile is None:
        return "whole image (dynamic input)"
    th, tw = spec.tile
    ny = max(1, -(-native[0] // th))
    nx = max(1, -(-native[1] // tw))
    return (f"{ny * nx} crops of {th}x{tw} at {native[0]}x{native[1]} (a grid covering the image, last row and "
            f"column aligned to the edge); {det.COMBINE_RULE}")


def _restoration_means(rows: list[dict[str, Any]], lpips_note: str | None) -> dict[str, Any]:
    """Mean of each metric over the scored samples (``aggregate`` from the metrics module)."""
    from pixbench import metrics

    good = [r for r in rows if not r.get("failure")]
    out: dict[str, Any] = {"model": {}, "degraded": {}, "aggregates": {"model": {}, "degraded": {}}}
    keys = sorted({k for r in good for k in r if k.startswith(("model_", "degraded_"))})
    for key in keys:
        who, name = key.split("_", 1)
        agg = metrics.aggregate([r[key] for r in good])
        out[who][name] = agg["mean"]
        out["aggregates"][who][name] = agg
    if "lpips" not in out["model"]:
        out["model"]["lpips"] = out["degraded"]["lpips"] = None
        out["lpips_note"] = lpips_note
    return out


def _restoration_breakdown(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
    frame = pd.DataFrame([r for r in rows if not r.get("failure")])
    out: dict[str, Any] = {}
    for col in columns:
        if frame.empty or col not in frame or (frame[col].astype(str) == "").all():
            continue
        groups: dict[str, Any] = {}
        for value, part in frame.groupby(frame[col].astype(str), sort=True):
            num = part[[c for c in part.columns if c.startswith(("model_", "degraded_"))]]
            finite = num.replace([np.inf, -np.inf], np.nan)
            groups[value] = {"n": int(len(part)), **{c: float(v) for c, v in finite.mean().items()}}
        out[col] = groups
    return out


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN to null, +-inf to the string "inf"/"-inf"."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


__all__ = ["EvaluateOptions", "evaluate", "default_output", "RESULT_FORMAT", "RESULT_FORMAT_VERSION"]
