"""The Markdown page of a table's breakdown by one column, and writing the breakdown files of a table.

``<stem>-by-<column>.md`` has one section per level, each a grid like the main table's (metric
columns with their intervals, the ``published`` value beside a metric where the literature has one,
the gains, the paired test against the next row, the samples scored) and the degraded input's row;
the notes say how to read them. ``<stem>-by-<column>.csv`` has the same rows with a ``<column>``
column (:func:`pixbench.leaderboard.levels.levels_csv`).
"""

from __future__ import annotations

from pathlib import Path

from pixbench.images import write_bytes_atomic
from pixbench.leaderboard.group import Table
from pixbench.leaderboard.level_rows import by_column_stem
from pixbench.leaderboard.levels import Level, gain, levels_csv, shown_columns, table_levels
from pixbench.leaderboard.published import (
    Published,
    published_header,
    published_text,
    references_note,
    shown_header,
)
from pixbench.leaderboard.render import fmt, relative_link, table_title
from pixbench.leaderboard.training import curves_path
from pixbench.leaderboard.uncertainty import ALPHA, CONFIDENCE, load_samples
from pixbench.tasks import get_task


def level_stem(table: Table, column: str) -> str:
    """The file stem of a table's breakdown by ``column``: ``<stem>-by-<column>``."""
    return by_column_stem(table.stem, column)


def _interval(low: float | None, high: float | None, kind: str) -> str:
    if low is None or high is None:
        return ""
    if kind == "pct":
        return f" [{100 * low:.1f}, {100 * high:.1f}]"
    digits = 3 if kind == "f4" else int(kind[1:])
    return f" [{low:.{digits}f}, {high:.{digits}f}]"


def _grid(table: Table, level: Level, out_dir: Path, with_published: set[str]) -> list[str]:
    """The Markdown grid of one level: a line per model, then the degraded input's."""
    task = get_task(table.task)
    columns = shown_columns(table, [level])
    cells = []
    for rank, row in enumerate(level.rows, start=1):
        md = {"#": str(rank), "model": row.result.model.name.replace("|", "\\|")}
        for c in columns:
            ci = row.stats.intervals.get(c.key)
            md[c.label] = fmt(row.values[c.key], c.fmt) + (_interval(ci.low, ci.high, c.fmt) if ci else "")
            if c.key in with_published:
                md[published_header(c.name)] = published_text(row.published.get(c.key))
        for c in (c for c in columns if c.key in task.gains):
            md[f"Δ {c.header.removesuffix(' dB')}"] = fmt(gain(row, c.key), "gain")
        test = row.stats.vs_next
        if test is not None and test.p_value is not None:
            p = "p<0.001" if test.p_value < 0.001 else f"p={test.p_value:.3f}"
            md["vs next"] = f"≈ ({p})" if test.p_value >= ALPHA else f"> ({p})"
        else:
            md["vs next"] = ""
        md["result"] = f"[json](<{relative_link(row.result.path, out_dir)}>)"
        cells.append(md)
    if not any(md["vs next"] for md in cells):
        cells = [{k: v for k, v in md.items() if k != "vs next"} for md in cells]
    if task.restores:
        degraded = dict.fromkeys(cells[0], "")
        degraded["model"] = "*degraded input*"
        for c in columns:
            degraded[c.label] = fmt(level.rows[0].degraded.get(c.key), c.fmt)
        cells.append(degraded)
    headers = list(cells[0])
    lines = ["| " + " | ".join(shown_header(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return lines + ["| " + " | ".join(md.get(h, "") for h in headers) + " |" for md in cells]


def levels_markdown(table: Table, levels: list[Level], out_dir: Path) -> str:
    """The page of a table's breakdown by one column: a section per level, then the notes."""
    task = get_task(table.task)
    column = levels[0].column
    with_published = {k for lv in levels for row in lv.rows for k in row.published}
    # a region column (localize) groups the regions inside the samples, ranked by their first metric
    by, what = (task.primary, "samples") if column not in task.region_breakdown else ("region recall", "regions")
    lines = [
        f"# {table_title(table)}, by {column}",
        "",
        f"Dataset fingerprint `{table.fingerprint}`, split `{table.split}`. One table per `{column}`: each "
        f"ranks the models by {by} (higher is better) over the {what} of that {column} alone. "
        f"[The whole table](<{table.stem}.md>) pools every {column}.",
    ]
    for level in levels:
        n = level.rows[0].n
        lines += ["", f"## {column} {level.value}" + (f" ({n} {what})" if n is not None else ""), ""]
        lines += _grid(table, level, out_dir, with_published)
    lines += ["", "Notes:", ""]
    if any(row.stats.intervals for lv in levels for row in lv.rows):
        lines.append(
            f"- [a, b]: {CONFIDENCE:.0%} bootstrap interval of the mean over the level's samples, resampling "
            "source photos, from the per-sample files; see docs/statistics.md."
        )
    if any(row.stats.vs_next is not None for lv in levels for row in lv.rows):
        lines.append(
            f"- vs next: the row against the row below on {task.primary}, paired by sample over the level's "
            f"samples (sign-flip test over source photos); **≈** marks an order not significant at {ALPHA:.0%}."
        )
    if task.restores:
        lines.append("- Δ: the model's value minus the degraded input's at that level (the *degraded input* row).")
    for row in (r for r in table.level_rows if r.column == column):
        curves = curves_path(row.result)
        trained = f" Its training curves: [curves](<{relative_link(curves, out_dir)}>)." if curves else ""
        lines.append(
            f"- {row.result.model.name}: scored on {column} {row.value} alone (`{row.result.subset}`), so it is "
            f"ranked in that table only, not in the whole table.{trained}"
        )
    references = {k: v for lv in levels for k, v in lv.references.items()}
    if references:
        lines.append(references_note(references))
    return "\n".join(lines) + "\n"


def write_levels(table: Table, out: Path, published: Published) -> tuple[list[Path], set[tuple]]:
    """Write every breakdown page of a table that has two levels or more.

    Returns:
        The files written, and the ``(stem, where)`` of every level shown (for the published rows' check).
    """
    samples, _ = load_samples(table.results)
    files: list[Path] = []
    shown: set[tuple] = set()
    for column in get_task(table.task).table_breakdown:
        levels = table_levels(table, column, samples, published)
        if not levels:
            continue
        stem = level_stem(table, column)
        write_bytes_atomic(out / f"{stem}.csv", levels_csv(table, levels, out).encode("utf-8"))
        write_bytes_atomic(out / f"{stem}.md", levels_markdown(table, levels, out).encode("utf-8"))
        files += [out / f"{stem}.md", out / f"{stem}.csv"]
        shown |= {(table.stem, tuple(sorted(lv.where.items()))) for lv in levels}
    return files, shown
