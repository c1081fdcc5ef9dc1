"""The ``pixbench evaluate`` run: check cheaply first, then score, time and write the result.

:func:`evaluate` checks everything that can be checked cheaply first (the
dataset, the model file, how to feed the model, a probe run, the depixelation
factor), then scores the split, measures speed, and writes the result JSON with
the per-sample CSV and, for restoration tasks, the crops strip beside it. The
format is described in ``docs/result-format.md`` and the behaviour in
``docs/evaluate.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError, ModelError, PixbenchError
from pixbench.evaluate.detect import crop_rule, detection_metrics, score_detection
from pixbench.evaluate.restore import (
    crops_strip,
    restoration_breakdown,
    restoration_means,
    score_restoration,
    score_triplets,
)
from pixbench.evaluate.speed import FULL_HD, environment, estimate_flops, measure_speed
from pixbench.images import encode_png, write_bytes_atomic
from pixbench.progress import Progress, silent
from pixbench.results import RESULT_FORMAT, RESULT_FORMAT_VERSION, targets, write_result
from pixbench.runtime import Runner, load_model, resolve_spec
from pixbench.tasks import get_task


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


def default_output(model_path: str | Path, dataset_path: str | Path) -> Path:
    """``results/<model stem>--<dataset folder>.json``."""
    return Path("results") / f"{Path(model_path).stem}--{Path(dataset_path).resolve().name}.json"


def evaluate(
    model_path: str | Path,
    dataset_path: str | Path,
    output: str | Path,
    options: EvaluateOptions | None = None,
    *,
    progress: Progress = silent,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Evaluate a model on a dataset split and write ``output`` (JSON) plus its companions.

    Args:
        model_path: An ``.onnx`` file or a Python model file (see :mod:`pixbench.baselines`).
        dataset_path: A folder written by ``pixbench build-dataset``.
        output: Where the result JSON goes; ``<stem>.samples.csv`` and
            ``<stem>.crops.png`` (restoration) are written beside it.
        options: What to measure; defaults as in :class:`EvaluateOptions`.
        progress: Told as work advances (phases ``scoring`` and ``timing``), for a progress bar.
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
    task_info = get_task(task)
    model = load_model(model_path, threads=opts.threads)
    spec = resolve_spec(model, task, layout=opts.layout, range_=opts.range, channels=opts.channels)
    runner = Runner(model, spec, overlap=opts.overlap)
    indices = _select(split, opts, dataset.root)
    n = len(indices)
    columns = [c for c in task_info.breakdown if c in split.metadata.columns]
    _check_inputs(spec, split.metadata.iloc[indices], model.path.name)
    model_doc = {
        "name": model.props.get("pixbench.model") or model.path.stem,
        "file": model.path.name,
        "sha256": model.sha256,
        "size_mb": round(model.size_mb, 6),
        "params": model.params,
        "flops_1080p": None,
        "props": model.props,
        "assumed": spec.assumed(),
        "assumed_from": spec.sources,
    }
    if on_ready:
        on_ready(model_doc)

    def tick(phase: str, total: int) -> Callable[[], None]:
        count = [0]

        def step() -> None:
            count[0] += 1
            progress(phase, count[0], total)

        return step

    samples = (split[i] for i in indices)
    doc: dict[str, Any] = {"format": RESULT_FORMAT, "format_version": RESULT_FORMAT_VERSION, "task": task}
    out = Path(output)
    stem = out.name[:-5] if out.name.endswith(".json") else out.name
    native = tuple(split[indices[0]].input.shape[:2])
    if not task_info.restores:
        scores = score_detection(runner, samples, columns=columns, on_sample=tick("scoring", n))
        overall, by = detection_metrics(scores.rows, columns)
        spec.output = scores.output
        model_doc["assumed"] = spec.assumed()
        rows, failures = scores.rows, scores.failures
        doc_metrics: dict[str, Any] = {"model": overall}
        doc_breakdown = by
        model_doc["assumed"]["crops"] = crop_rule(spec, native)
        doc_metrics["crops_per_image"] = sorted({r["crops"] for r in rows if r["crops"]})
    else:
        scores = score_restoration(
            runner, task, samples, columns=columns, use_lpips=opts.lpips, on_sample=tick("scoring", n)
        )
        rows, failures = scores.rows, scores.failures
        doc_metrics = restoration_means(rows, scores.lpips_note)
        doc_breakdown = restoration_breakdown(rows, columns)
        if task == "blockcnn":
            contexts, centres = split.triplets()
            m = len(contexts) if opts.limit is None else min(len(contexts), opts.limit * 16)
            doc_metrics["triplets"] = score_triplets(runner, contexts[:m], centres[:m])
        if scores.crops:
            strip, side = crops_strip(scores.crops)
            crops_name = f"{stem}.crops.png"
            write_bytes_atomic(out.parent / crops_name, encode_png(strip))
            doc["crops"] = {
                "file": crops_name,
                "size": side,
                "samples": [c[0] for c in scores.crops],
                "rows": ["degraded", "model", "target"],
            }
    model_doc["flops_1080p"] = estimate_flops(model, spec, *FULL_HD)
    speed = None
    if opts.speed:
        progress("timing", 0, 1)
        speed = measure_speed(runner, native, warmup=opts.warmup, runs=opts.runs)
        progress("timing", 1, 1)
    csv_name = f"{stem}.samples.csv"
    write_bytes_atomic(out.parent / csv_name, pd.DataFrame(rows).to_csv(index=False).encode())
    accuracy = doc_metrics.get("model", {}).get("accuracy")
    doc.update(
        {
            "model": model_doc,
            "dataset": {
                "path": dataset.root.resolve().name,
                "fingerprint": dataset.fingerprint,
                "recipe": {"name": dataset.recipe_name, "version": dataset.recipe_version},
                "source": (dataset.info.get("source") or {}).get("name"),
                "split": opts.split,
                "samples": n,
                "split_samples": len(split),
            },
            "settings": {
                "split": opts.split,
                "limit": opts.limit,
                "factor": opts.factor,
                "tile": list(spec.tile) if spec.tile else None,
                "overlap": opts.overlap if spec.tile and not spec.blockwise else None,
                "overrides": {"layout": opts.layout, "range": opts.range, "channels": opts.channels},
                "lpips": opts.lpips,
                "speed_warmup": opts.warmup,
                "speed_runs": opts.runs,
            },
            "metrics": doc_metrics,
            "breakdown": doc_breakdown,
            "failures": {"count": int(sum(failures.values())), "reasons": dict(sorted(failures.items()))},
            "speed": speed,
            "targets": targets(task, accuracy, model_doc["size_mb"], speed and speed.get("fps_1080p")),
            "environment": environment(model),
            "per_sample": csv_name,
        }
    )
    write_result(out, doc)
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
            raise DatasetError(
                f"{root}: no {opts.split!r} samples with factor {opts.factor}; "
                f"factors present: {', '.join(have) or 'none'}"
            )
    if not indices:
        raise DatasetError(f"{root}: split {opts.split!r} has no samples")
    return indices if opts.limit is None else indices[: opts.limit]


def _check_inputs(spec: Any, meta: pd.DataFrame, name: str) -> None:
    """Fail before scoring when the dataset cannot give the model what it wants."""
    if spec.input != "lowres":
        return
    if "lowres_file_name" not in meta.columns or (meta["lowres_file_name"] == "").any():
        raise ModelError(
            f"{name}: the model takes the low-res grid (pixbench.input=lowres) but this dataset has no lowres images"
        )
    factors = sorted({str(f) for f in meta.get("factor", pd.Series(dtype=str)) if str(f) != ""})
    if factors != [str(spec.scale)]:
        raise ModelError(
            f"{name}: the model upscales by {spec.scale} (pixbench.scale) but the dataset's "
            f"factors are {', '.join(factors) or 'unknown'}; pass --factor {spec.scale} to score only those samples"
        )
