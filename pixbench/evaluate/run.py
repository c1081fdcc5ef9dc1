"""The ``pixbench evaluate`` run: check cheaply first, then score, time and write the result.

:func:`evaluate` checks everything that can be checked cheaply first (the
dataset, the model file, how to feed the model, a probe run, the depixelation
factor), then scores the split, measures speed, and writes the result JSON with
the per-sample CSV and, for restoration tasks, the crops strip beside it. The
format is described in ``docs/result-format.md`` and the behaviour in
``docs/evaluate.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pixbench.datasets import BuiltDataset, DatasetSplit, open_dataset
from pixbench.errors import DatasetError, ModelError, PixbenchError
from pixbench.evaluate.detect import crop_rule, detection_metrics, score_detection
from pixbench.evaluate.localize import score_localization
from pixbench.evaluate.restore import (
    crop_values,
    crops_strip,
    restoration_breakdown,
    restoration_means,
    score_restoration,
    score_triplets,
)
from pixbench.evaluate.speed import FULL_HD, environment, estimate_flops, measure_speed
from pixbench.images import encode_png, write_bytes_atomic
from pixbench.progress import Progress, silent
from pixbench.results import (
    Crops,
    DatasetInfo,
    Failures,
    Metrics,
    ModelInfo,
    Overrides,
    RecipeRef,
    Result,
    Settings,
    Speed,
    Triplets,
    targets,
    write_result,
)
from pixbench.runtime import InputSpec, Model, Runner, load_model, resolve_spec
from pixbench.tasks import Task, get_task


@dataclass
class EvaluateOptions:
    """Everything that changes what :func:`evaluate` measures (all recorded in ``settings``)."""

    split: str = "test"
    limit: int | None = None
    factor: int | None = None
    quality: int | None = None
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
    on_ready: Callable[[ModelInfo], None] | None = None,
) -> Result:
    """Evaluate a model on a dataset split and write ``output`` (JSON) plus its companions.

    Args:
        model_path: An ``.onnx`` file or a JSON model file (see :mod:`pixbench.baselines`).
        dataset_path: A folder written by ``pixbench build-dataset``.
        output: Where the result JSON goes; ``<stem>.samples.csv`` and
            ``<stem>.crops.png`` (restoration) are written beside it.
        options: What to measure; defaults as in :class:`EvaluateOptions`.
        progress: Told as work advances (phases ``scoring`` and ``timing``), for a progress bar.
        on_ready: Called once the model has been resolved and probed, with the
            model section of the result (so the caller can show what was assumed
            before the long work starts).

    Returns:
        The result that was written (it also reads as the JSON object of the file).

    Raises:
        DatasetError: The dataset is missing, half-built, not pixbench's, or lacks the split.
        ModelError: The model cannot be loaded or cannot fit the task (raised before scoring).
    """
    opts = options or EvaluateOptions()
    if opts.limit is not None and opts.limit < 1:
        raise PixbenchError(f"--limit {opts.limit} must be at least 1")
    run = _prepare(model_path, dataset_path, opts)
    model_info = _model_info(run.model, run.spec)
    if on_ready:
        on_ready(model_info)
    out = Path(output)
    native = tuple(run.split[run.indices[0]].input.shape[:2])
    scoring = _counter(progress, "scoring", len(run.indices))
    if run.task.restores:
        scored = _score_restoration(run, out, on_sample=scoring)
    elif run.task.maps:
        scored = _score_localization(run, model_info, on_sample=scoring)
    else:
        scored = _score_detection(run, model_info, native, on_sample=scoring)
    model_info.flops_1080p = estimate_flops(run.model, run.spec, *FULL_HD)
    speed = _time(run, native, progress) if opts.speed else None
    csv_name = f"{_stem(out)}.samples.csv"
    write_bytes_atomic(out.parent / csv_name, pd.DataFrame(scored.rows).to_csv(index=False).encode())
    result = _result(run, model_info, scored, speed, per_sample=csv_name)
    result.path = out
    write_result(out, result)
    return result


@dataclass
class _Run:
    """What one evaluation works with, all resolved and checked before anything is scored."""

    opts: EvaluateOptions
    dataset: BuiltDataset
    split: DatasetSplit
    task: Task
    model: Model
    spec: InputSpec
    runner: Runner
    indices: list[int]
    columns: list[str]


@dataclass
class _Scored:
    """The scoring step's output: per-sample rows, failures by reason, the metrics and the crops strip."""

    rows: list[dict[str, Any]]
    failures: Counter
    metrics: Metrics
    breakdown: dict[str, Any]
    crops: Crops | None = None


def _prepare(model_path: str | Path, dataset_path: str | Path, opts: EvaluateOptions) -> _Run:
    """Open the dataset and the model, decide how to feed it, pick the samples: every cheap check."""
    dataset = open_dataset(dataset_path)
    split = dataset.split(opts.split)
    task = get_task(dataset.task)
    model = load_model(model_path, threads=opts.threads)
    spec = resolve_spec(model, task.name, layout=opts.layout, range_=opts.range, channels=opts.channels)
    runner = Runner(model, spec, overlap=opts.overlap)
    indices = _select(split, opts, dataset.root)
    columns = [c for c in task.breakdown if c in split.metadata.columns]
    _check_inputs(spec, split.metadata.iloc[indices], model.path.name)
    return _Run(opts, dataset, split, task, model, spec, runner, indices, columns)


def _model_info(model: Model, spec: InputSpec) -> ModelInfo:
    """The ``model`` section as far as it is known before scoring (FLOPs are filled in after)."""
    return ModelInfo(
        name=model.props.get("pixbench.model") or model.path.stem,
        file=model.path.name,
        sha256=model.sha256,
        size_mb=round(model.size_mb, 6),
        params=model.params,
        flops_1080p=None,
        props=model.props,
        assumed=spec.assumed(),
        assumed_from=spec.sources,
    )


def _counter(progress: Progress, phase: str, total: int) -> Callable[[], None]:
    """A callback that tells ``progress`` one more of ``total`` is done."""
    count = [0]

    def step() -> None:
        count[0] += 1
        progress(phase, count[0], total)

    return step


def _stem(out: Path) -> str:
    return out.name[:-5] if out.name.endswith(".json") else out.name


def _score_detection(
    run: _Run, model_info: ModelInfo, native: tuple[int, ...], *, on_sample: Callable[[], None]
) -> _Scored:
    """Score a detector; the output reading it settled on, and its crop rule, go into ``model.assumed``."""
    samples = (run.split[i] for i in run.indices)
    scores = score_detection(run.runner, samples, columns=run.columns, on_sample=on_sample)
    overall, by = detection_metrics(scores.rows, run.columns)
    run.spec.output = scores.output
    model_info.assumed = run.spec.assumed()
    model_info.assumed["crops"] = crop_rule(run.spec, native)
    metrics = Metrics(model=overall, crops_per_image=sorted({r["crops"] for r in scores.rows if r["crops"]}))
    return _Scored(scores.rows, scores.failures, metrics, by)


def _score_localization(run: _Run, model_info: ModelInfo, *, on_sample: Callable[[], None]) -> _Scored:
    """Score a localizer's maps against the masks; how its output was read goes into ``model.assumed``."""
    samples = (run.split[i] for i in run.indices)
    scores = score_localization(run.runner, samples, run.task, columns=run.columns, on_sample=on_sample)
    run.spec.output = scores.output
    model_info.assumed = run.spec.assumed()
    return _Scored(scores.rows, scores.failures, Metrics(model=scores.metrics), scores.breakdown)


def _score_restoration(run: _Run, out: Path, *, on_sample: Callable[[], None]) -> _Scored:
    """Score a restorer against the clean targets, beside the degraded input; write the crops strip."""
    samples = (run.split[i] for i in run.indices)
    scores = score_restoration(
        run.runner,
        run.task.name,
        samples,
        columns=run.columns,
        use_lpips=run.opts.lpips,
        lpips_cache=(run.dataset.root, run.dataset.fingerprint),
        on_sample=on_sample,
    )
    means = restoration_means(scores.rows, scores.lpips_note)
    metrics = Metrics(
        model=means["model"],
        degraded=means["degraded"],
        aggregates=means["aggregates"],
        lpips_note=means.get("lpips_note"),
    )
    if run.task.blockwise:
        contexts, centres = run.split.triplets()
        m = len(contexts) if run.opts.limit is None else min(len(contexts), run.opts.limit * 16)
        metrics.triplets = Triplets(**score_triplets(run.runner, contexts[:m], centres[:m]))
    scored = _Scored(scores.rows, scores.failures, metrics, restoration_breakdown(scores.rows, run.columns))
    if scores.crops:
        strip, side = crops_strip(scores.crops)
        name = f"{_stem(out)}.crops.png"
        write_bytes_atomic(out.parent / name, encode_png(strip))
        scored.crops = Crops(
            file=name,
            size=side,
            samples=[c.sample_id for c in scores.crops],
            rows=["degraded", "model", "target"],
            per_crop=crop_values(scores.crops),
        )
    return scored


def _result(run: _Run, model_info: ModelInfo, scored: _Scored, speed: Speed | None, *, per_sample: str) -> Result:
    """The result document of a finished run."""
    fps = None if speed is None else speed.fps_1080p
    return Result(
        task=run.task.name,
        crops=scored.crops,
        model=model_info,
        dataset=_dataset_info(run),
        settings=_settings(run.opts, run.spec),
        metrics=scored.metrics,
        breakdown=scored.breakdown,
        failures=Failures(count=int(sum(scored.failures.values())), reasons=dict(sorted(scored.failures.items()))),
        speed=speed,
        targets=targets(run.task.name, scored.metrics.model.get("accuracy"), model_info.size_mb, fps),
        environment=environment(run.model),
        per_sample=per_sample,
    )


def _time(run: _Run, native: tuple[int, ...], progress: Progress) -> Speed:
    progress("timing", 0, 1)
    speed = measure_speed(run.runner, native, warmup=run.opts.warmup, runs=run.opts.runs)
    progress("timing", 1, 1)
    return speed


def _dataset_info(run: _Run) -> DatasetInfo:
    dataset = run.dataset
    return DatasetInfo(
        path=dataset.root.resolve().name,
        fingerprint=dataset.fingerprint,
        recipe=RecipeRef(name=dataset.recipe_name, version=dataset.recipe_version),
        source=(dataset.info.get("source") or {}).get("name"),
        split=run.opts.split,
        samples=len(run.indices),
        split_samples=len(run.split),
    )


def _settings(opts: EvaluateOptions, spec: InputSpec) -> Settings:
    return Settings(
        split=opts.split,
        limit=opts.limit,
        factor=opts.factor,
        quality=opts.quality,
        tile=list(spec.tile) if spec.tile else None,
        overlap=opts.overlap if spec.tile and not spec.blockwise else None,
        overrides=Overrides(layout=opts.layout, range=opts.range, channels=opts.channels),
        lpips=opts.lpips,
        speed_warmup=opts.warmup,
        speed_runs=opts.runs,
    )


def _select(split: Any, opts: EvaluateOptions, root: Path) -> list[int]:
    """Indices of the samples to score: those of ``--factor``/``--quality`` (if given), then the first ``--limit``."""
    meta = split.metadata
    indices = list(range(len(meta)))
    for column, plural, value in (("factor", "factors", opts.factor), ("quality", "qualities", opts.quality)):
        if value is None:
            continue
        if column not in meta.columns:
            raise DatasetError(f"{root}: --{column} {value} given, but this dataset has no {column} column")
        indices = [i for i in indices if str(meta[column].iloc[i]) == str(value)]
        if not indices:
            have = sorted({str(f) for f in meta[column] if str(f)}, key=_level_order)
            raise DatasetError(
                f"{root}: no {opts.split!r} samples with {column} {value}; "
                f"{plural} present: {', '.join(have) or 'none'}"
            )
    if not indices:
        raise DatasetError(f"{root}: split {opts.split!r} has no samples")
    return indices if opts.limit is None else indices[: opts.limit]


def _level_order(level: str) -> tuple[int, float, str]:
    """Numbers in numeric order (q10 before q100), then any other text."""
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


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
