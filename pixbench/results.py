"""The result file format, in one home: its name and version, the targets, writing and reading.

``pixbench evaluate`` writes one JSON result file per run (:func:`write_result`) and
``pixbench leaderboard`` reads them back (:func:`read_result`); both take the format
constants and the pass/fail targets of the brief from here, so the two sides cannot
drift apart. The format itself is described in ``docs/result-format.md``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.errors import PixbenchError, check_format
from pixbench.images import write_bytes_atomic
from pixbench.tasks import TASK_NAMES, TASKS

RESULT_FORMAT = "pixbench-result"
RESULT_FORMAT_VERSION = 1
#: The brief the seed models were built to (Intel): each is shown as pass or fail.
TARGET_ACCURACY, TARGET_SIZE_MB, TARGET_FPS_1080P = 0.90, 10.0, 30.0
#: Result ``settings`` that select part of a split (``pixbench evaluate --limit/--factor``).
SUBSET_SETTINGS = ("limit", "factor")


class ResultFileError(PixbenchError):
    """A result file is unreadable, not a pixbench result, or disagrees with its benchmark."""


# --------------------------------------------------------------------------- writing


def targets(task: str, accuracy: float | None, size_mb: float, fps_1080p: float | None) -> dict[str, bool | None]:
    """Pass/fail for each target of the brief that applies to ``task``; ``None`` where not measured.

    The accuracy target is a detector's only: restoration results do not list it.
    """
    out: dict[str, bool | None] = {}
    if task == "detect":
        out[f"accuracy>={TARGET_ACCURACY:.2f}"] = None if accuracy is None else accuracy >= TARGET_ACCURACY
    out[f"size<={TARGET_SIZE_MB:g}MB"] = size_mb <= TARGET_SIZE_MB
    out[f"fps_1080p>={TARGET_FPS_1080P:g}"] = None if fps_1080p is None else fps_1080p >= TARGET_FPS_1080P
    return out


def json_safe(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN to null, +-inf to the string "inf"/"-inf"."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def write_result(path: str | os.PathLike, doc: dict[str, Any]) -> None:
    """Write a result document as indented JSON (see :func:`json_safe`), atomically."""
    write_bytes_atomic(Path(path), (json.dumps(json_safe(doc), indent=2, allow_nan=False) + "\n").encode())


# --------------------------------------------------------------------------- reading


@dataclass
class Result:
    """The parts of one result file that a leaderboard shows."""

    path: Path
    doc: dict[str, Any]
    task: str
    model: str
    sha256: str
    fingerprint: str
    recipe: str
    version: int
    source: str
    split: str
    samples: int | None
    subset: str
    model_metrics: dict[str, Any]
    degraded_metrics: dict[str, Any]
    hardware: str

    @property
    def benchmark_key(self) -> tuple[str, str, int, str]:
        return (self.task, self.recipe, self.version, self.source)

    @property
    def evalset_key(self) -> tuple[str, str, int, str]:
        return (self.fingerprint, self.split, -1 if self.samples is None else self.samples, self.subset)


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


def _required(doc: dict[str, Any], path: str, where: Path) -> Any:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node or node[part] is None:
            raise ResultFileError(f"{where}: result file lacks {path!r} (see docs/result-format.md)")
        node = node[part]
    return node


def _source_name(source: Any) -> str:
    if isinstance(source, dict):
        source = source.get("name") or source.get("spec")
    return str(source) if source else "unknown"


def hardware_label(doc: dict[str, Any]) -> str:
    """Where FPS was measured: device, execution provider and threads, in one line."""
    speed = doc.get("speed") or {}
    env = doc.get("environment") or {}
    provider = str(speed.get("provider") or "unknown provider").removesuffix("ExecutionProvider")
    device = env.get("gpu") if provider.upper().startswith(("CUDA", "TENSORRT")) else None
    device = device or env.get("cpu") or "unknown device"
    parts = [str(device), provider]
    if speed.get("threads"):
        parts.append(f"{speed['threads']} threads")
    return ", ".join(parts)


def read_result(path: Path) -> Result:
    """Read and validate one result file.

    Raises:
        ResultFileError: The file is not JSON, not a pixbench result, of another
            format version, or lacks a key the leaderboard needs.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: unreadable result file: {exc}") from None
    check_format(
        doc,
        name=RESULT_FORMAT,
        version=RESULT_FORMAT_VERSION,
        where=str(path),
        kind="result file",
        error=ResultFileError,
    )
    task = _required(doc, "task", path)
    if task not in TASKS:
        raise ResultFileError(f"{path}: unknown task {task!r}; expected one of {', '.join(TASK_NAMES)}")
    samples = (doc.get("dataset") or {}).get("samples")
    settings = doc.get("settings") or {}
    # Options of `pixbench evaluate` that score only part of the split; such runs are their own evaluation set.
    subset = " ".join(f"--{k} {settings[k]}" for k in SUBSET_SETTINGS if settings.get(k) not in (None, ""))
    metrics = _required(doc, "metrics", path)
    return Result(
        path=path,
        doc=doc,
        task=task,
        model=str(_required(doc, "model.name", path)),
        sha256=str(_required(doc, "model.sha256", path)),
        fingerprint=str(_required(doc, "dataset.fingerprint", path)),
        recipe=str(_required(doc, "dataset.recipe.name", path)),
        version=int(_required(doc, "dataset.recipe.version", path)),
        source=_source_name(doc["dataset"].get("source")),
        split=str(doc["dataset"].get("split") or "test"),
        samples=int(samples) if isinstance(samples, (int, float)) else None,
        subset=subset,
        model_metrics=_required(doc, "metrics.model", path),
        degraded_metrics=metrics.get("degraded") or {},
        hardware=hardware_label(doc),
    )


def collect_result_files(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and folders into result files, sorted and without duplicates.

    Files given by name must be result files. In folders, ``*.json`` files are
    searched recursively and those that are not pixbench results (for example a
    ``dataset.json``) are passed over.

    Raises:
        ResultFileError: An input does not exist, or no result file was found.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        path = Path(item)
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            for candidate in sorted(path.rglob("*.json")):
                if candidate.is_file() and _looks_like_result(candidate):
                    found[candidate] = None
        else:
            raise ResultFileError(f"RESULTS: {path} is neither a result file nor a folder")
    if not found:
        names = ", ".join(str(i) for i in inputs) or "(nothing)"
        raise ResultFileError(f"RESULTS: no pixbench result files found in {names}; run `pixbench evaluate` first")
    return sorted(found, key=lambda p: p.resolve().as_posix())


def _looks_like_result(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return f'"{RESULT_FORMAT}"' in head


# --------------------------------------------------------------------------- metric lookup

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

    Keys ``triplets.<name>`` read the BlockCNN block scores under ``metrics.triplets``.
    """
    if key.startswith("triplets."):
        node = ((result.doc.get("metrics") or {}).get("triplets") or {}).get(who) or {}
        return metric(node, key.removeprefix("triplets."))
    return metric(result.model_metrics if who == "model" else result.degraded_metrics, key)


# --------------------------------------------------------------------------- per-sample values

#: Metric keys where a lower value is better; every other metric is better higher.
LOWER_IS_BETTER = frozenset({"fpr", "fnr", "l1_hole", "mse_hole", "l1_full", "mse_full", "lpips"})


def sample_image(sample_id: str) -> str:
    """The source image of a sample: ``sample_id`` is ``<16 hex of the source image's hash>-<index>``."""
    return sample_id.rsplit("-", 1)[0]


@dataclass
class Samples:
    """A result's ``<stem>.samples.csv``: one entry per sample, in the file's order.

    Attributes:
        ids: ``sample_id`` of each sample.
        images: The source image of each sample (:func:`sample_image`).
        failed: The sample was not scored (its ``failure`` is not empty).
        columns: Every numeric column, NaN where empty.
        threshold: Detection only: a score at or above it predicts "degraded".
    """

    path: Path
    ids: np.ndarray
    images: np.ndarray
    failed: np.ndarray
    columns: dict[str, np.ndarray]
    threshold: float = 0.5

    def values(self, key: str, *, who: str = "model") -> np.ndarray | None:
        """Per-sample values of a metric key, NaN where a sample has none; None if the file lacks it.

        Restoration keys read ``<who>_<key>`` (or an alias of :data:`METRIC_ALIASES`). Detection
        keys are 0/1 outcomes per crop: ``accuracy`` (prediction equals label), ``fpr`` (predicted
        degraded; NaN on degraded crops) and ``recall`` (predicted degraded; NaN on clean crops).
        """
        outcomes = self.outcomes()
        if outcomes is not None and key in ("accuracy", "fpr", "recall"):
            label, prediction = outcomes[:, 0], outcomes[:, 1]
            if key == "accuracy":
                return np.where(np.isnan(label), np.nan, (label == prediction).astype(np.float64))
            return np.where(label == (0 if key == "fpr" else 1), prediction, np.nan)
        for name in METRIC_ALIASES.get(key, (key,)):
            column = self.columns.get(f"{who}_{name}")
            if column is not None:
                return np.where(self.failed, np.nan, column)
        return None

    def outcomes(self) -> np.ndarray | None:
        """``(n, 2)`` detection label and prediction (0/1, NaN for failed samples); None if not detection."""
        label, score = self.columns.get("label"), self.columns.get("score")
        if label is None or score is None:
            return None
        bad = self.failed | np.isnan(label) | np.isnan(score)
        prediction = (np.nan_to_num(score) >= self.threshold).astype(np.float64)
        return np.stack([np.where(bad, np.nan, label), np.where(bad, np.nan, prediction)], axis=1)


def samples_path(result: Result) -> Path:
    """The per-sample CSV of a result: its ``per_sample`` field, else ``<stem>.samples.csv``."""
    name = result.doc.get("per_sample")
    if isinstance(name, str) and name and Path(name).name == name:
        return result.path.parent / name
    return result.path.with_name(result.path.name.removesuffix(".json") + ".samples.csv")


def read_samples(result: Result) -> Samples | None:
    """Read the per-sample CSV beside a result; None when there is none.

    Raises:
        ResultFileError: The file exists but has no ``sample_id`` column or cannot be read.
    """
    import csv

    path = samples_path(result)
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ResultFileError(f"{path}: unreadable per-sample file: {exc}") from None
    if not rows or "sample_id" not in rows[0]:
        raise ResultFileError(f"{path}: per-sample file has no rows or no sample_id column (see docs/result-format.md)")
    columns: dict[str, np.ndarray] = {}
    for name in rows[0]:
        if name in ("sample_id", "failure"):
            continue
        try:
            columns[name] = np.array([float(r[name]) if r[name] not in ("", None) else np.nan for r in rows])
        except ValueError:
            continue  # a text column (down_kernel, negative_kind): not a metric
    ids = np.array([r["sample_id"] for r in rows])
    threshold = number(result.model_metrics.get("threshold"))
    return Samples(
        path=path,
        ids=ids,
        images=np.array([sample_image(i) for i in ids]),
        failed=np.array([bool(r.get("failure")) for r in rows]),
        columns=columns,
        threshold=0.5 if threshold is None else threshold,
    )


def training_minutes(result: Result) -> float | None:
    """Minutes the model trained, from its ``pixbench.training`` prop (a JSON object with ``minutes``); else None."""
    props = (result.doc.get("model") or {}).get("props") or {}
    text = props.get("pixbench.training") if isinstance(props, dict) else None
    try:
        info = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return None
    minutes = number(info.get("minutes")) if isinstance(info, dict) else None
    return minutes if minutes is not None and math.isfinite(minutes) and minutes >= 0 else None
