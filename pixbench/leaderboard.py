"""Leaderboard tables built from result files alone.

``pixbench leaderboard RESULTS... -o DIR`` reads the JSON files that ``pixbench
evaluate`` wrote (``docs/result-format.md``) and writes, per benchmark, a Markdown
table, a CSV table and, for restoration tasks, a visual comparison PNG. Nothing
else is read: no dataset, no model. That keeps every published number traceable
to one result file, which each row links to.

A *benchmark* is task x recipe ``name@version`` x source. Inside one benchmark,
rows are ranked together only when they were scored on the same *evaluation set*:
the same dataset fingerprint, split and number of samples. Results of one
benchmark that disagree on any of these are **separated** into their own tables
(with a warning), or rejected with ``strict=True``; they are never mixed.

Output bytes depend only on the result files and on where they lie relative to
the output folder: rows are sorted with a total order, numbers are formatted
with fixed precision, and no timestamps or absolute paths are written.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixbench.datasets import TASKS
from pixbench.errors import PixbenchError
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
    if not isinstance(doc, dict) or doc.get("format") != RESULT_FORMAT:
        raise ResultFileError(f"{path}: not a pixbench result file (format is not {RESULT_FORMAT!r})")
    if doc.get("format_version") != RESULT_FORMAT_VERSION:
        raise ResultFileError(
            f"{path}: result format_version {doc.get('format_version')!r} is not supported "
            f"(this pixbench reads version {RESULT_FORMAT_VERSION})"
        )
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
            different evaluation sets (fingerprint, split or sample count).
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
                    f"Other results of this benchmark were scored on a different evaluation set and are in "
                    f"separate tables; the two are not comparable."
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


# --------------------------------------------------------------------------- rendering

#: Other spellings of a metric key that result files may use; the first present wins.
METRIC_ALIASES = {"fpr": ("fpr", "fp_rate"), "psnr_full": ("psnr_full", "psnr"), "psnr_b": ("psnr_b", "psnrb")}
#: Task metric columns: (CSV name, Markdown header, result metric key, format).
TASK_COLUMNS: dict[str, list[tuple[str, str, str, str]]] = {
    "detect": [("accuracy", "accuracy", "accuracy", "pct"), ("precision", "precision", "precision", "pct"),
               ("recall", "recall", "recall", "pct"), ("f1", "F1", "f1", "pct"),
               ("fp_rate", "FP rate", "fpr", "pct"), ("roc_auc", "ROC-AUC", "roc_auc", "f4")],
    "depixelate": [("psnr", "PSNR dB", "psnr", "f2"), ("ssim", "SSIM", "ssim", "f4")],
    "jpeg": [("psnr", "PSNR dB", "psnr", "f2"), ("psnr_b", "PSNR-B dB", "psnr_b", "f2"), ("ssim", "SSIM", "ssim", "f4")],
    "inpaint": [("psnr_hole", "PSNR holes dB", "psnr_hole", "f2"), ("l1_hole", "L1 holes", "l1_hole", "f4"),
                ("psnr_full", "PSNR full dB", "psnr_full", "f2"), ("ssim", "SSIM", "ssim", "f4")],
}
#: BlockCNN: whole-image numbers (the model slid over the JPEG grid) plus the score on the 24x24 -> 8x8 blocks.
TASK_COLUMNS["blockcnn"] = [*TASK_COLUMNS["jpeg"], ("psnr_blocks", "PSNR blocks dB", "triplets.psnr", "f2")]
#: Restoration metrics whose gain over the degraded input gets a column (L1 is left out: lower is better).
GAIN_KEYS = {"depixelate": ("psnr", "ssim"), "jpeg": ("psnr", "psnr_b", "ssim"),
             "blockcnn": ("psnr", "psnr_b", "ssim", "triplets.psnr"),
             "inpaint": ("psnr_hole", "psnr_full")}


def metric(metrics: dict[str, Any], key: str) -> float | None:
    """Look up a metric by its key or one of its :data:`METRIC_ALIASES`."""
    for name in METRIC_ALIASES.get(key, (key,)):
        value = number(metrics.get(name))
        if value is not None:
            return value
    return None


def value(result: Result, key: str, *, who: str = "model") -> float | None:
    """A metric of the model (``who="model"``) or of the degraded input (``"degraded"``).

    Keys ``triplets.<name>`` read the BlockCNN block scores under ``metrics.triplets``.
    """
    if key.startswith("triplets."):
        node = ((result.doc.get("metrics") or {}).get("triplets") or {}).get(who) or {}
        return metric(node, key.removeprefix("triplets."))
    return metric(result.model_metrics if who == "model" else result.degraded_metrics, key)


def lpips_reason(result: Result) -> str | None:
    """Why a result has no LPIPS value, or None when it has one."""
    value = result.model_metrics.get("lpips")
    if number(value) is not None:
        return None
    metrics = result.doc.get("metrics") or {}
    candidates = [
        value.get("reason") if isinstance(value, dict) else value if isinstance(value, str) else None,
        result.model_metrics.get("lpips_note"), metrics.get("lpips_note"),
        result.model_metrics.get("lpips_reason"), metrics.get("lpips_reason"),
        (metrics.get("unavailable") or {}).get("lpips"), (result.doc.get("notes") or {}).get("lpips"),
    ]
    reason = next((str(c) for c in candidates if c), "no LPIPS value in the result file")
    return " ".join(reason.split())


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if kind == "pct":
        return f"{100 * value:.2f}%"
    if kind == "gain":
        return f"{value:+.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:+.4f}"
    if kind == "params":
        return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k" if value >= 1e3 else str(int(value))
    if kind == "mb":
        return f"{value:.2f}" if value >= 1 else f"{value:.3f}"
    return f"{value:.{int(kind[1:])}f}"


def _gain(result: Result, key: str) -> float | None:
    model, degraded = value(result, key), value(result, key, who="degraded")
    if model is None or degraded is None or math.isinf(model) or math.isinf(degraded):
        return None
    # Rounded so that float noise (0.8 - 0.7 = 0.10000000000000009) does not reach the CSV.
    return round(model - degraded, 6)


def _targets(result: Result) -> dict[str, str]:
    """Detection targets as ``pass``/``fail``/``""`` (unknown), recomputed from the numbers."""
    model = result.doc.get("model") or {}
    checks = {
        "target_accuracy": (metric(result.model_metrics, "accuracy"), lambda v: v >= TARGET_ACCURACY),
        "target_size": (number(model.get("size_mb")), lambda v: v <= TARGET_SIZE_MB),
        "target_fps": (number((result.doc.get("speed") or {}).get("fps_1080p")), lambda v: v >= TARGET_FPS),
    }
    return {name: "" if v is None else "pass" if ok(v) else "fail" for name, (v, ok) in checks.items()}


def table_rows(table: Table, out_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The table's rows twice: raw values for the CSV, formatted text for Markdown."""
    hw_tags = {hw: f"H{i + 1}" for i, hw in enumerate(dict.fromkeys(r.hardware for r in table.results))}
    reasons = {why: i + 1 for i, why in enumerate(dict.fromkeys(
        w for w in (lpips_reason(r) for r in table.results) if w is not None))}
    raw_rows, md_rows = [], []
    for rank, result in enumerate(table.results, start=1):
        model = result.doc.get("model") or {}
        speed = result.doc.get("speed") or {}
        raw: dict[str, Any] = {"rank": rank, "model": result.model}
        md: dict[str, str] = {"#": str(rank), "model": _md(result.model)}
        for csv_name, header, key, kind in TASK_COLUMNS[table.task]:
            raw[csv_name] = value(result, key)
            md[header] = _fmt(raw[csv_name], kind)
        for key in GAIN_KEYS.get(table.task, ()):
            name = _csv_name(table.task, key)
            raw[f"gain_{name}"] = _gain(result, key)
            md[f"Δ {_header(table.task, key)}"] = _fmt(raw[f"gain_{name}"], "gain")
        if table.task in RESTORATION_TASKS:
            why = lpips_reason(result)
            raw["lpips"], raw["lpips_note"] = metric(result.model_metrics, "lpips"), why or ""
            md["LPIPS"] = f"n/a [{reasons[why]}]" if why else _fmt(raw["lpips"], "f4")
        raw["fps_1080p"] = number(speed.get("fps_1080p"))
        raw["fps_hardware"] = result.hardware
        raw["size_mb"] = number(model.get("size_mb"))
        raw["params"] = int(model["params"]) if isinstance(model.get("params"), (int, float)) else None
        md["FPS 1080p"] = _fmt(raw["fps_1080p"], "f1")
        md["hw"] = hw_tags[result.hardware]
        md["MB"] = _fmt(raw["size_mb"], "mb")
        md["params"] = _fmt(raw["params"], "params")
        if table.task == "detect":
            targets = _targets(result)
            raw.update(targets)
            values = list(targets.values())
            raw["targets"] = "fail" if "fail" in values else "" if "" in values else "pass"
            failed = [n.removeprefix("target_") for n, v in targets.items() if v == "fail"]
            unknown = [n.removeprefix("target_") for n, v in targets.items() if v == ""]
            md["targets"] = ("fail: " + ", ".join(failed)) if failed else (
                "n/a: " + ", ".join(unknown)) if unknown else "pass"
        link = relative_link(result.path, out_dir)
        raw["dataset_fingerprint"] = short(result.fingerprint)
        raw["model_sha256"] = short(result.sha256)
        raw["result"] = link
        md["dataset"] = f"`{short(result.fingerprint)}`"
        md["model sha256"] = f"`{short(result.sha256)}`"
        md["result"] = f"[json](<{link}>)"
        raw_rows.append(raw)
        md_rows.append(md)
    return raw_rows, md_rows


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _csv_name(task: str, key: str) -> str:
    return next(c for c, _, k, _ in TASK_COLUMNS[task] if k == key)


def _header(task: str, key: str) -> str:
    return next(h for _, h, k, _ in TASK_COLUMNS[task] if k == key).removesuffix(" dB")


def csv_text(table: Table, out_dir: Path) -> str:
    """The table as CSV: a header line, one row per result, ``""`` for unknown values."""
    rows, _ = table_rows(table, out_dir)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else repr(v) if isinstance(v, float) else v for k, v in row.items()})
    return buf.getvalue()


def _markdown_grid(rows: list[dict[str, str]]) -> list[str]:
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row.get(h, "") for h in headers) + " |" for row in rows]
    return lines


def table_title(table: Table) -> str:
    return f"{table.recipe} v{table.version} on {table.source} ({table.task})"


def table_markdown(table: Table, out_dir: Path, figure: str | None) -> str:
    """The table as a Markdown page: title, what was scored, the grid, notes and the figure."""
    raw_rows, md_rows = table_rows(table, out_dir)
    primary = primary_metric(table.task)
    lines = [f"# {table_title(table)}", ""]
    lines.append(
        f"Dataset fingerprint `{table.fingerprint}`, split `{table.split}`, "
        f"{table.samples if table.samples is not None else 'unknown number of'} samples. "
        f"Rows are sorted by {primary} (higher is better)."
    )
    lines.append("")
    if table.task in RESTORATION_TASKS:
        reference = {h: "" for h in md_rows[0]}
        reference["model"] = "*degraded input*"
        for _, header, key, kind in TASK_COLUMNS[table.task]:
            reference[header] = _fmt(value(table.results[0], key, who="degraded"), kind)
        md_rows = md_rows + [reference]
    lines += _markdown_grid(md_rows)
    lines += ["", "Notes:", ""]
    hardware = list(dict.fromkeys(r["fps_hardware"] for r in raw_rows))
    for i, hw in enumerate(hardware, start=1):
        lines.append(f"- H{i}: FPS at 1920x1080 measured on {hw}.")
    if len(hardware) > 1:
        lines.append(f"- **FPS was measured on {len(hardware)} different setups**: compare FPS only between rows "
                     "with the same hw tag. Rows are ranked by quality, never by FPS.")
    reasons = dict.fromkeys(r["lpips_note"] for r in raw_rows if r.get("lpips_note"))
    for i, why in enumerate(reasons, start=1):
        lines.append(f"- [{i}] LPIPS n/a: {why}")
    if table.task == "detect":
        lines.append(f"- targets: accuracy >= {TARGET_ACCURACY:.0%}, size <= {TARGET_SIZE_MB:g} MB, "
                     f">= {TARGET_FPS:g} FPS at 1080p on the hw shown.")
    else:
        lines.append("- Δ: the model's value minus the degraded input's (the *degraded input* row).")
    for result in table.results:
        failures = result.doc.get("failures") or {}
        if isinstance(failures, dict) and failures.get("count"):
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted((failures.get("reasons") or {}).items()))
            lines.append(f"- {_md(result.model)}: {failures['count']} samples failed"
                         + (f" ({reasons})" if reasons else "") + "; see its result file.")
    if table.results[0].subset:
        lines.append(f"- Scored with `{table.results[0].subset}`: only part of the `{table.split}` split.")
    lines += [f"- {note}" for note in table.notes]
    if figure:
        lines += ["", f"![{table_title(table)}: degraded, each model, clean](<{figure}>)", "",
                  table.figure_caption]
    return "\n".join(lines) + "\n"


def index_markdown(tables: list[Table]) -> str:
    """An index page listing every table written."""
    lines = ["# Leaderboards", "", "| benchmark | task | models | best | table | csv |", "|---|---|---|---|---|---|"]
    for t in tables:
        best = t.results[0]
        score = metric(best.model_metrics, primary_metric(t.task))
        shown = _fmt(score, "pct" if t.task == "detect" else "f2")
        lines.append(f"| {_md(table_title(t))} | {t.task} | {len(t.results)} | {_md(best.model)} ({shown}) "
                     f"| [{t.stem}.md](<{t.stem}.md>) | [csv](<{t.stem}.csv>) |")
    return "\n".join(lines) + "\n"


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
        progress: Called with each table's stem before it is written.

    Returns:
        What was written per table, and warnings (separated results, figure problems).
    """
    from pixbench.figures import comparison_figure

    if zoom < 1 or zoom > 8:
        raise ValueError(f"zoom must be an integer from 1 to 8, got {zoom}")
    out = Path(out_dir)
    results = [read_result(p) for p in collect_result_files(inputs)]
    tables, warnings = group_results(results, strict=strict)
    written: list[Written] = []
    for table in tables:
        if progress:
            progress(table.stem)
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
