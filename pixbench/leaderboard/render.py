"""Markdown and CSV renderings of a leaderboard table.

How numbers are formatted and the notes under a table (hardware tags, LPIPS
reasons, targets, failures) live here; which columns each task shows comes from
:mod:`pixbench.tasks`, reading result files is :mod:`pixbench.results` and grouping
them :mod:`pixbench.leaderboard.group`. Everything is a pure function of the
:class:`~pixbench.leaderboard.group.Table`, so equal inputs give equal bytes.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from pixbench.leaderboard.group import Table, primary_column, short
from pixbench.leaderboard.hosts import SpeedColumn, resize_text, speed_cell, speed_column, speed_notes, speed_sentence
from pixbench.leaderboard.published import published_header, published_text, references_note, shown_header
from pixbench.leaderboard.training import curves_path, train_text, training_notes
from pixbench.leaderboard.uncertainty import ALPHA, CONFIDENCE, RowStats, table_statistics
from pixbench.results import (
    TARGET_ACCURACY,
    TARGET_FPS_1080P,
    TARGET_SIZE_MB,
    Result,
    metric,
    number,
    result_value,
    training_minutes,
    whole_run_recorded,
)
from pixbench.tasks import Task, get_task


def relative_link(path: Path, out_dir: Path) -> str:
    """``path`` relative to ``out_dir``, with forward slashes, as a table links to it."""
    return Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()


def lpips_reason(result: Result) -> str | None:
    """Why a result has no LPIPS value (its ``metrics.lpips_note``, on one line), or None when it has one."""
    if number(result.model_metrics.get("lpips")) is not None:
        return None
    return " ".join((result.metrics.lpips_note or "no LPIPS value in the result file").split())


def fmt(value: Any, kind: str) -> str:
    """A number as a table shows it: ``kind`` is ``pct``, ``gain``, ``params``, ``mb`` or ``f<digits>``."""
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
        return f"{value:.2f}" if value >= 1 else f"{value:.3f}" if value >= 0.01 else "<0.01"
    return f"{value:.{int(kind[1:])}f}"


def _gain(result: Result, key: str) -> float | None:
    model, degraded = result_value(result, key), result_value(result, key, who="degraded")
    if model is None or degraded is None or math.isinf(model) or math.isinf(degraded):
        return None
    # Rounded so that float noise (0.8 - 0.7 = 0.10000000000000009) does not reach the CSV.
    return round(model - degraded, 6)


def _targets(result: Result) -> dict[str, str]:
    """Detection targets as ``pass``/``fail``/``""`` (unknown), recomputed from the numbers."""
    fps = result.speed.fps_1080p if result.speed is not None else None
    checks = {
        "target_accuracy": (metric(result.model_metrics, "accuracy"), lambda v: v >= TARGET_ACCURACY),
        "target_size": (number(result.model.size_mb), lambda v: v <= TARGET_SIZE_MB),
        "target_fps": (number(fps), lambda v: v >= TARGET_FPS_1080P),
    }
    return {name: "" if v is None else "pass" if ok(v) else "fail" for name, (v, ok) in checks.items()}


def _round(value: float | None) -> float | None:
    # Resampled statistics go through BLAS sums whose last bits may vary between machines; 6 decimals do not.
    return None if value is None else round(value, 6)


def _interval_text(low: float | None, high: float | None, kind: str) -> str:
    """`` [low, high]`` rounded for reading: percentages to 0.1, 4-decimal metrics to 3 decimals."""
    if low is None or high is None:
        return ""
    if kind == "pct":
        return f" [{100 * low:.1f}, {100 * high:.1f}]"
    digits = {"f4": 3}.get(kind, int(kind[1:]) if kind.startswith("f") else 2)
    return f" [{low:.{digits}f}, {high:.{digits}f}]"


def _vs_next_text(row: RowStats) -> str:
    """``≈``/``>`` and the p-value of a row versus the next, or "" when the two were not paired."""
    test = row.vs_next
    if test is None or test.p_value is None:
        return ""
    p = "p<0.001" if test.p_value < 0.001 else f"p={test.p_value:.3f}"
    return f"≈ ({p})" if row.tied_with_next else f"> ({p})"


def table_rows(
    table: Table, out_dir: Path, stats: list[RowStats] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The table's rows twice: raw values for the CSV, formatted text for Markdown.

    ``stats`` are the rows' intervals and paired tests (:func:`table_statistics`), computed when not given.
    """
    stats = table_statistics(table) if stats is None else stats
    task = get_task(table.task)
    with_ci = {key for row in stats for key in row.intervals}  # every row gets these CI columns: one CSV header
    timed = [r.hardware for r in table.results if r.speed is not None]  # a row without speed was timed nowhere
    hw_tags = {hw: f"H{i + 1}" for i, hw in enumerate(dict.fromkeys(timed))}
    column = speed_column(table.results)
    some_whole = any(whole_run_recorded(r) for r in table.results)  # then records without the run get a *
    reasons = {
        why: i + 1
        for i, why in enumerate(dict.fromkeys(w for w in (lpips_reason(r) for r in table.results) if w is not None))
    }
    raw_rows, md_rows = [], []
    for rank, (result, row_stats) in enumerate(zip(table.results, stats), start=1):
        raw: dict[str, Any] = {"rank": rank, "model": result.model.name}
        md: dict[str, str] = {"#": str(rank), "model": _md(result.model.name) + resize_text(result)}
        _metric_cells(raw, md, result, task, row_stats, with_ci, table.published)
        _vs_next_cells(raw, md, row_stats)
        if task.restores:
            why = lpips_reason(result)
            raw["lpips"], raw["lpips_note"] = metric(result.model_metrics, "lpips"), why or ""
            md["LPIPS"] = f"n/a [{reasons[why]}]" if why else fmt(raw["lpips"], "f4")
        _cost_cells(raw, md, result, hw_tags.get(result.hardware, "–") if result.speed else "–", column)
        _train_cell(md, result, out_dir, mark_partial=some_whole)
        if task.classifies:  # the targets are a detector's (pixbench.results.targets)
            _target_cells(raw, md, result)
        link = relative_link(result.path, out_dir)
        # Full values in the CSV: a short hex prefix made only of digits would be read back as a number.
        raw.update(dataset_fingerprint=result.fingerprint, model_sha256=result.sha256, result=link)
        md["dataset"] = f"`{short(result.fingerprint)}`"
        md["model sha256"] = f"`{short(result.sha256)}`"
        md["result"] = f"[json](<{link}>)"
        raw_rows.append(raw)
        md_rows.append(md)
    return raw_rows, md_rows


def _metric_cells(
    raw: dict[str, Any],
    md: dict[str, str],
    result: Result,
    task: Task,
    row: RowStats,
    with_ci: set[str],
    published: dict[str, dict[str, float]] | None = None,
) -> None:
    """The task's metric columns (with their intervals where any row has one, and the literature's
    value where any row has one), then the gains over the input."""
    shown = {key for values in (published or {}).values() for key in values}
    for column in task.columns:
        raw[column.name] = result_value(result, column.key)
        md[column.label] = fmt(raw[column.name], column.fmt)
        if column.key in with_ci:
            ci = row.intervals.get(column.key)
            raw[f"{column.name}_ci_low"] = _round(ci.low) if ci else None
            raw[f"{column.name}_ci_high"] = _round(ci.high) if ci else None
            md[column.label] += _interval_text(ci.low, ci.high, column.fmt) if ci else ""
        if column.key in shown:
            value = (published or {}).get(result.model.name, {}).get(column.key)
            raw[f"{column.name}_published"] = value
            md[published_header(column.name)] = published_text(value)
    for key in task.gains:
        column = next(c for c in task.columns if c.key == key)
        raw[f"gain_{column.name}"] = _gain(result, key)
        md[f"Δ {column.header.removesuffix(' dB')}"] = fmt(raw[f"gain_{column.name}"], "gain")


def _vs_next_cells(raw: dict[str, Any], md: dict[str, str], row: RowStats) -> None:
    test = row.vs_next
    raw["p_vs_next"] = _round(test.p_value) if test else None
    raw["diff_vs_next"] = _round(test.difference) if test else None
    raw["diff_vs_next_ci_low"] = _round(test.low) if test else None
    raw["diff_vs_next_ci_high"] = _round(test.high) if test else None
    md["vs next"] = _vs_next_text(row)


def _cost_cells(raw: dict[str, Any], md: dict[str, str], result: Result, hw_tag: str, column: SpeedColumn) -> None:
    """FPS and where it was measured, size, parameters and training minutes."""
    model = result.model
    raw["fps_1080p"] = number(result.speed.fps_1080p) if result.speed is not None else None
    raw["fps_hardware"] = result.hardware if result.speed is not None else ""
    raw["size_mb"] = number(model.size_mb)
    raw["params"] = int(model.params) if isinstance(model.params, (int, float)) else None
    md["FPS 1080p"] = speed_cell(result, column)
    md["hw"] = hw_tag
    md["MB"] = fmt(raw["size_mb"], "mb")
    md["params"] = fmt(raw["params"], "params")
    raw["train_min"] = training_minutes(result)


def _train_cell(md: dict[str, str], result: Result, out_dir: Path, *, mark_partial: bool) -> None:
    """Training minutes (:func:`train_text`), linked to the training curves beside the result where they are."""
    text, curves = train_text(result, mark_partial=mark_partial), curves_path(result)
    md["train min"] = f"[{text}](<{relative_link(curves, out_dir)}>)" if text and curves else text


def _target_cells(raw: dict[str, Any], md: dict[str, str], result: Result) -> None:
    """A detector's targets, each pass, fail or unknown, and all of them together."""
    targets = _targets(result)
    raw.update(targets)
    values = list(targets.values())
    raw["targets"] = "fail" if "fail" in values else "" if "" in values else "pass"
    failed = [n.removeprefix("target_") for n, v in targets.items() if v == "fail"]
    unknown = [n.removeprefix("target_") for n, v in targets.items() if v == ""]
    md["targets"] = ("fail: " + ", ".join(failed)) if failed else ("n/a: " + ", ".join(unknown)) if unknown else "pass"


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def csv_text(table: Table, out_dir: Path, stats: list[RowStats] | None = None) -> str:
    """The table as CSV: a header line, one row per result, ``""`` for unknown values."""
    rows, _ = table_rows(table, out_dir, stats)
    return rows_csv(rows)


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of ``rows``: a header line from the first row's keys, then one line per row; ``""`` for
    unknown values, floats written with ``repr`` (every digit)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else repr(v) if isinstance(v, float) else v for k, v in row.items()})
    return buf.getvalue()


def _markdown_grid(rows: list[dict[str, str]]) -> list[str]:
    headers = list(rows[0])
    lines = ["| " + " | ".join(shown_header(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row.get(h, "") for h in headers) + " |" for row in rows]
    return lines


def table_title(table: Table) -> str:
    """The heading of a table: recipe, version, source, the level of a sibling level's table, and task."""
    level = f", {table.level[0]} {table.level[1]}" if table.level else ""
    return f"{table.recipe} v{table.version} on {table.source}{level} ({table.task})"


def table_markdown(
    table: Table, out_dir: Path, figure: str | None, stats: list[RowStats] | None = None, speed_plot: str | None = None
) -> str:
    """The table as a Markdown page: title, what was scored, the grid, notes, the figure and the speed plot."""
    stats = table_statistics(table) if stats is None else stats
    raw_rows, md_rows = table_rows(table, out_dir, stats)
    task = get_task(table.task)
    lines = [f"# {table_title(table)}", ""]
    lines.append(
        f"Dataset fingerprint `{table.fingerprint}`, split `{table.split}`, "
        f"{table.samples if table.samples is not None else 'unknown number of'} samples. "
        f"Rows are sorted by {task.primary} (higher is better)."
    )
    timing = speed_column(table.results)
    if speed_sentence(timing):
        lines += ["", speed_sentence(timing)]
    lines.append("")
    for optional in ("vs next", "train min"):  # shown only when some row has a value
        if not any(row[optional] for row in md_rows):
            md_rows = [{k: v for k, v in row.items() if k != optional} for row in md_rows]
    if task.restores:
        reference = {h: "" for h in md_rows[0]}
        reference["model"] = "*degraded input*"
        for column in task.columns:
            reference[column.label] = fmt(result_value(table.results[0], column.key, who="degraded"), column.fmt)
        md_rows = md_rows + [reference]
    lines += _markdown_grid(md_rows)
    lines += ["", "Notes:", ""]
    lines += _measurement_notes(task, raw_rows, stats)
    lines += [f"- {_md(note)}" for note in speed_notes(table.results, timing)]
    lines += training_notes(table.results)
    lines += _row_notes(table, task, raw_rows)
    lines += _pictures(table, task, figure, speed_plot)
    return "\n".join(lines) + "\n"


def _measurement_notes(task: Task, raw_rows: list[dict[str, Any]], stats: list[RowStats]) -> list[str]:
    """How the columns were measured: hardware tags, intervals, paired tests, training minutes."""
    lines = []
    hardware = list(dict.fromkeys(r["fps_hardware"] for r in raw_rows if r["fps_hardware"]))
    for i, hw in enumerate(hardware, start=1):
        lines.append(f"- H{i}: FPS at 1920x1080 measured on {hw}.")
    if len(hardware) > 1:
        lines.append(
            f"- **FPS was measured on {len(hardware)} different setups**: compare FPS only between rows "
            "with the same hw tag. Rows are ranked by quality, never by FPS."
        )
    if any(row.intervals for row in stats):
        lines.append(
            f"- [a, b]: {CONFIDENCE:.0%} bootstrap interval of the mean, resampling source photos (not "
            "crops) from the per-sample files; see docs/statistics.md."
        )
    if any(row.vs_next is not None for row in stats):
        lines.append(
            f"- vs next: the row against the row below on {task.primary}, paired by sample (sign-flip test over "
            f"source photos); **≈** marks an order that is not significant at {ALPHA:.0%} "
            "(p >= 0.05): the two rows may swap on other photos."
        )
    return lines


def _row_notes(table: Table, task: Task, raw_rows: list[dict[str, Any]]) -> list[str]:
    """LPIPS reasons, targets or gains, failed samples, the subset scored, and the table's own notes."""
    lines = []
    reasons = dict.fromkeys(r["lpips_note"] for r in raw_rows if r.get("lpips_note"))
    for i, why in enumerate(reasons, start=1):
        lines.append(f"- [{i}] LPIPS n/a: {why}")
    if task.restores:
        lines.append("- Δ: the model's value minus the degraded input's (the *degraded input* row).")
    elif task.classifies:
        lines.append(
            f"- targets: accuracy >= {TARGET_ACCURACY:.0%}, size <= {TARGET_SIZE_MB:g} MB, "
            f">= {TARGET_FPS_1080P:g} FPS at 1080p on the hw shown."
        )
    for result in table.results:
        failures = result.failures
        if failures.count:
            counts = ", ".join(f"{k}: {v}" for k, v in sorted((failures.reasons or {}).items()))
            lines.append(
                f"- {_md(result.model.name)}: {failures.count} samples failed"
                + (f" ({counts})" if counts else "")
                + "; see its result file."
            )
    if table.results[0].subset:
        lines.append(f"- Scored with `{table.results[0].subset}`: only part of the `{table.split}` split.")
    if table.references:
        lines.append(references_note(table.references))
    lines += [f"- {note}" for note in table.notes]
    return lines


def _pictures(table: Table, task: Task, figure: str | None, speed_plot: str | None) -> list[str]:
    """The comparison figure and the speed plot, each with its caption."""
    lines = []
    if figure:
        lines += ["", f"![{table_title(table)}: degraded, each model, clean](<{figure}>)", "", table.figure_caption]
    if speed_plot:
        lines += [
            "",
            f"![{table_title(table)}: FPS at 1080p against {task.primary}](<{speed_plot}>)",
            "",
            f"Speed against quality: one point per row (marker area by model size), the Pareto frontier, "
            f"and the {TARGET_FPS_1080P:g} FPS target; FPS measured on the hw of the notes above.",
        ]
    return lines


def index_markdown(tables: list[Table]) -> str:
    """An index page: one row per benchmark (task x recipe@version), one column per test source.

    Each cell links the table of that source with its best row; a benchmark whose results
    were separated into several tables (different evaluation sets) lists each of them.
    """
    sources = sorted({t.source for t in tables})
    benchmarks: dict[tuple[str, str, int], dict[str, list[Table]]] = {}
    for t in tables:
        benchmarks.setdefault((t.task, t.recipe, t.version), {}).setdefault(t.source, []).append(t)
    lines = [
        "# Leaderboards",
        "",
        "One row per benchmark, one column per test source; each cell links the table and names its best row "
        "(ranked by the task's primary metric; see each table for intervals and paired tests).",
        "",
        "| benchmark | task | " + " | ".join(_md(s) for s in sources) + " |",
        "|---|---|" + "---|" * len(sources),
    ]
    for (task, recipe, version), by_source in sorted(benchmarks.items()):
        cells = []
        for source in sources:
            cells.append("<br>".join(_index_cell(t) for t in by_source.get(source, [])) or "–")
        lines.append(f"| {_md(recipe)} v{version} | {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _index_cell(t: Table) -> str:
    best = t.results[0]
    column = primary_column(t.task)
    shown = fmt(metric(best.model_metrics, column.key), column.fmt)
    return f"[{t.stem}](<{t.stem}.md>): {_md(best.model.name)} {shown}, {len(t.results)} models ([csv](<{t.stem}.csv>))"
