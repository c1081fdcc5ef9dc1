"""The rows of a task's tables that a paper reports a number for, beside pixbench's: for generated prose.

``published.yaml`` (:mod:`pixbench.leaderboard.published`) gives the numbers; this module pairs each
with pixbench's value of the same row, of the whole table or of one level of a breakdown table, so a
task page can quote both without a hand-written number (the ``papers TASK`` block of
:mod:`pixbench.leaderboard.prose`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pixbench.leaderboard.group import Table
from pixbench.leaderboard.level_pages import level_stem
from pixbench.leaderboard.levels import table_levels
from pixbench.leaderboard.published import Published, published_text, read_published
from pixbench.leaderboard.render import fmt
from pixbench.leaderboard.uncertainty import load_samples
from pixbench.results import Result, result_value
from pixbench.tasks import Column, get_task


@dataclass
class PaperRow:
    """One row with published numbers: where it is, and ``(column, pixbench's value, the paper's)`` per metric."""

    table: str
    page: str
    level: str
    result: Result
    values: list[tuple[Column, float | None, float]]
    references: list[str]


def folder_published(folder: Path) -> Published:
    """The ``published.yaml`` of a leaderboard folder, or no numbers when it has none."""
    path = folder / "published.yaml"
    return read_published(path) if path.is_file() else Published()


def paper_rows(task: str, tables: list[Table], published: Published) -> list[PaperRow]:
    """Every row of ``task``'s tables that ``published`` has numbers for, table by table, level by level."""
    rows = []
    columns = get_task(task).columns
    for table in (t for t in tables if t.task == task):
        by_model = published.values(table.stem)
        refs = list(published.references_of(table.stem))
        for result in table.results:
            paper = by_model.get(result.model.name, {})
            values = [(c, result_value(result, c.key), paper[c.key]) for c in columns if c.key in paper]
            if values:
                rows.append(PaperRow(table.stem, table.stem, "all", result, values, refs))
        samples, _ = load_samples(table.results)
        for column in get_task(task).table_breakdown:
            for level in table_levels(table, column, samples, published):
                for row in level.rows:
                    values = [
                        (c, row.values.get(c.key), row.published[c.key]) for c in columns if c.key in row.published
                    ]
                    if values:
                        page, where = level_stem(table, column), f"{column} {level.value}"
                        rows.append(PaperRow(table.stem, page, where, row.result, values, list(level.references)))
    return rows


def metric_name(column: Column) -> tuple[str, str]:
    """``("PSNR (Y)", " dB")``: a metric's name with its channel, and its unit."""
    name = column.header.removesuffix(" dB") + (f" ({column.channel})" if column.channel else "")
    return name, " dB" if column.header.endswith(" dB") else ""


def row_cells(row: PaperRow) -> str:
    """``PSNR (Y) 33.67 dB (paper 33.66); SSIM (Y) 0.9303 (paper 0.9299)``."""
    parts = []
    for column, mine, paper in row.values:
        name, unit = metric_name(column)
        parts.append(f"{name} {fmt(mine, column.fmt)}{unit} (paper {published_text(paper)})")
    return "; ".join(parts)


def largest_gaps(rows: list[PaperRow]) -> str:
    """The largest ``|pixbench - paper|`` of each metric, per table: ``t: PSNR (Y) 0.013 dB, SSIM (Y) 0.0007``."""
    gaps: dict[str, dict[str, tuple[Column, float]]] = {}
    for row in rows:
        table = gaps.setdefault(row.table, {})
        for column, mine, paper in row.values:
            if mine is not None:
                gap = abs(mine - paper)
                if column.key not in table or gap > table[column.key][1]:
                    table[column.key] = (column, gap)
    parts = []
    for stem, table in gaps.items():
        cells = []
        for column, gap in table.values():
            name, unit = metric_name(column)
            digits = {"f2": 3, "f4": 4}.get(column.fmt, 4)
            cells.append(f"{name} {gap:.{digits}f}{unit}")
        parts.append(f"`{stem}` {', '.join(cells)}")
    return "; ".join(parts)
