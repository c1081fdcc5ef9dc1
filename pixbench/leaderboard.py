"""Leaderboard tables built from result files alone.

``pixbench leaderboard RESULTS... -o DIR`` reads the JSON files that ``pixbench
evaluate`` wrote (``docs/result-format.md``) and writes, per benchmark, a Markdown
table, a CSV table and, for restoration tasks, a visual comparison PNG. Nothing
else is read: no dataset, no model. That keeps every published number traceable
to one result file, which each row links to.

A *benchmark* is task x recipe ``name@version`` x source. Inside one benchmark,
rows are ranked together only when they were scored on the same *evaluation set*:
the same dataset fingerprint, split, number of samples and subset options
(``evaluate --limit/--factor``). Results of one
benchmark that disagree on any of these are **separated** into their own tables
(with a warning), or rejected with ``strict=True``; they are never mixed.

Output bytes depend only on the result files and on where they lie relative to
the output folder: rows are sorted with a total order, numbers are formatted
with fixed precision, and no timestamps or absolute paths are written.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixbench.datasets import TASKS
from pixbench.errors import PixbenchError, check_format
from pixbench.images import write_bytes_atomic

RESULT_FORMAT = "pixbench-result"
RESULT_FORMAT_VERSION = 1
RESTORATION_TASKS = ("depixelate", "jpeg", "blockcnn", "inpaint")
#: Intel brief targets that detection rows are checked against.
TARGET_ACCURACY = 0.90
TARGET_SIZE_MB = 10.0
TARGET_FPS = 30.0
#: Result ``settings`` that select part of a split (``pixbench evaluate --limit/--factor``).
SUBSET_SETTINGS = ("limit", "factor")
#: Hex digits kept when a hash is shown in a table.
SHORT_HASH = 12


class ResultFileError(PixbenchError):
    """A result file is unreadable, not a pixbench result, or disagrees with its benchmark."""


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


@dataclass
class Table:
    """One benchmark table: its identity, ranked results and output file stem."""

    task: str
    recipe: str
    version: int
    source: str
    fingerprint: str
    split: str
    samples: int | None
    results: list[Result]
    stem: str
    notes: list[str] = field(default_factory=list)
    figure_caption: str = ""


# --------------------------------------------------------------------------- reading


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
    check_format(doc, name=RESULT_FORMAT, version=RESULT_FORMAT_VERSION, where=str(path), kind="result file",
                 error=ResultFileError)
    task = _required(doc, "task", path)
    if task not in TASKS:
        raise ResultFileError(f"{path}: unknown task {task!r}; expected one of {', '.join(TASKS)}")
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


# --------------------------------------------------------------------------- grouping


def primary_metric(task: str) -> str:
    """The sort key of a task's tables (``docs/result-format.md``)."""
    return {"detect": "accuracy", "inpaint": "psnr_hole"}.get(task, "psnr")


def _rank_key(result: Result) -> tuple:
    score = metric(result.model_metrics, primary_metric(result.task))
    # Missing scores sink to the bottom; ties break on name, hash and file, so the order is total.
    return (score is None, -(score if score is not None else 0.0), result.model, result.sha256,
            result.path.resolve().as_posix())


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _stem(task: str, recipe: str, version: int, source: str) -> str:
    name = recipe if recipe.startswith(task) else f"{task}-{recipe}"
    return _slug(f"{name}-v{version}-{source}")


def group_results(results: list[Result], *, strict: bool = False) -> tuple[list[Table], list[str]]:
    """Group results into ranked tables, one per benchmark and evaluation set.

    Returns:
        The tables, sorted by output stem, and warnings about separated results.

    Raises:
        ResultFileError: ``strict`` is set and one benchmark holds results from
            different evaluation sets (fingerprint, split, sample count or subset).
    """
    benchmarks: dict[tuple, dict[tuple, list[Result]]] = {}
    for result in results:
        benchmarks.setdefault(result.benchmark_key, {}).setdefault(result.evalset_key, []).append(result)
    tables: list[Table] = []
    warnings: list[str] = []
    for (task, recipe, version, source), evalsets in benchmarks.items():
        base = _stem(task, recipe, version, source)
        if len(evalsets) > 1:
            a, b = (group[0] for group in list(evalsets.values())[:2])
            message = (
                f"{recipe}@{version} on {source}: results disagree on the evaluation set "
                f"({a.path}: {_evalset_text(a)}; {b.path}: {_evalset_text(b)})"
            )
            if strict:
                raise ResultFileError(message + "; rebuild the dataset or re-evaluate so that they match")
            warnings.append(message + "; written as separate tables")
        for (fingerprint, split, n, subset), group in evalsets.items():
            stem = base if len(evalsets) == 1 else f"{base}-{short(fingerprint, 8)}-{split}-n{n}"
            if len(evalsets) > 1 and subset:
                stem += "-" + _slug(subset.replace("--", "").replace(" ", ""))
            first = group[0]
            table = Table(task=task, recipe=recipe, version=version, source=source, fingerprint=fingerprint,
                          split=split, samples=first.samples, results=sorted(group, key=_rank_key), stem=stem)
            if len(evalsets) > 1:
                table.notes.append(
                    "Other results of this benchmark were scored on a different evaluation set and are in "
                    "separate tables; the two are not comparable."
                )
            tables.append(table)
    return sorted(tables, key=lambda t: t.stem), warnings


def _evalset_text(result: Result) -> str:
    subset = f", {result.subset}" if result.subset else ""
    return f"fingerprint {short(result.fingerprint)}, split {result.split}, {result.samples} samples{subset}"


def short(digest: str, n: int = SHORT_HASH) -> str:
    """``sha256:abc...`` or ``abc...`` shortened to ``n`` hex digits."""
    return digest.split(":", 1)[-1][:n]


def relative_link(path: Path, out_dir: Path) -> str:
    """``path`` relative to ``out_dir``, with forward slashes, as a table links to it."""
    return Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()


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


# --------------------------------------------------------------------------- notes written by hand


def read_notes(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a notes file: a JSON object mapping a table's stem to the notes listed under that table.

    The notes say what result files cannot, for example how long the models were trained.

    Args:
        path: The JSON file, e.g. ``{"detect-v1-kodak": ["Trained for 3 epochs: not converged."]}``.

    Returns:
        The notes per table stem.

    Raises:
        ResultFileError: The file is missing, not JSON, or not an object of string lists.
    """
    where = Path(path)
    try:
        doc = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"--notes {where}: cannot read it as JSON ({exc})") from exc
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v) for k, v in doc.items()
    ):
        raise ResultFileError(
            f"--notes {where}: expected a JSON object mapping table stems to lists of strings, "
            'e.g. {"detect-v1-kodak": ["Trained for 3 epochs."]}'
        )
    return doc


# --------------------------------------------------------------------------- the whole command


@dataclass
class Written:
    """What :func:`build_leaderboards` wrote for one table."""

    table: Table
    files: list[Path]


def build_leaderboards(
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    strict: bool = False,
    figures: bool = True,
    zoom: int = 2,
    notes: dict[str, list[str]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Written], list[str]]:
    """Read result files and write every table (Markdown, CSV, figure) and an index.

    Args:
        inputs: Result files or folders holding them.
        out_dir: Folder that receives the tables; links are relative to it.
        strict: Reject results of one benchmark that disagree on the evaluation set,
            instead of writing them as separate tables.
        figures: Write the visual comparison PNG of each restoration table.
        zoom: Nearest-neighbour magnification of the crops in figures.
        notes: Extra notes per table stem (:func:`read_notes`), listed under that table.
        progress: Called with each table's stem before it is written.

    Returns:
        What was written per table, and warnings (separated results, figure problems).
    """
    from pixbench.figures import comparison_figure
    from pixbench.tables import csv_text, index_markdown, table_markdown

    if zoom < 1 or zoom > 8:
        raise ValueError(f"zoom must be an integer from 1 to 8, got {zoom}")
    out = Path(out_dir)
    results = [read_result(p) for p in collect_result_files(inputs)]
    tables, warnings = group_results(results, strict=strict)
    notes = notes or {}
    unused = sorted(set(notes) - {t.stem for t in tables})
    if unused:
        # A stem without results is normal for a partial run; say so in case it is a typo.
        warnings.append(f"notes for tables that were not written: {', '.join(unused)}")
    written: list[Written] = []
    for table in tables:
        if progress:
            progress(table.stem)
        table.notes.extend(notes.get(table.stem, []))
        files = []
        figure_name = None
        if figures and table.task in RESTORATION_TASKS:
            figure = comparison_figure(table, zoom=zoom)
            warnings.extend(f"{table.stem}: {note}" for note in figure.notes)
            table.notes.extend(figure.notes)
            if figure.png is not None:
                figure_name = f"{table.stem}.png"
                table.figure_caption = figure.caption
                write_bytes_atomic(out / figure_name, figure.png)
                files.append(out / figure_name)
        write_bytes_atomic(out / f"{table.stem}.csv", csv_text(table, out).encode("utf-8"))
        write_bytes_atomic(out / f"{table.stem}.md", table_markdown(table, out, figure_name).encode("utf-8"))
        files[:0] = [out / f"{table.stem}.md", out / f"{table.stem}.csv"]
        written.append(Written(table, files))
    write_bytes_atomic(out / "index.md", index_markdown(tables).encode("utf-8"))
    return written, warnings
