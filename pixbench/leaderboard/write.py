"""The whole ``pixbench leaderboard`` run: read result files, group them, write every table and an index.

Output bytes depend only on the result files and on where they lie relative to
the output folder: no timestamps or absolute paths are written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pixbench.images import write_bytes_atomic
from pixbench.leaderboard.figures import comparison_figure
from pixbench.leaderboard.group import Table, group_results
from pixbench.leaderboard.level_pages import write_levels
from pixbench.leaderboard.prose import fill_prose, find_blocks
from pixbench.leaderboard.published import Published
from pixbench.leaderboard.render import csv_text, index_markdown, table_markdown
from pixbench.leaderboard.sources_page import sources_index, write_sources_pages
from pixbench.leaderboard.speed import speed_plot
from pixbench.leaderboard.uncertainty import load_samples, table_statistics
from pixbench.progress import Progress, silent
from pixbench.results import collect_result_files, read_result
from pixbench.tasks import get_task


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
    published: Published | None = None,
    figure_sources: Iterable[str] | None = None,
    prose: Iterable[str | os.PathLike] = (),
    progress: Progress = silent,
) -> tuple[list[Written], list[str]]:
    """Read result files and write every table (Markdown, CSV, figure) and an index.

    Args:
        inputs: Result files or folders holding them.
        out_dir: Folder that receives the tables; links are relative to it.
        strict: Reject results of one benchmark that disagree on the evaluation set,
            instead of writing them as separate tables.
        figures: Write the visual comparison PNG of each restoration table and the
            speed-quality plot (``<stem>-speed.png``) of every table.
        zoom: Nearest-neighbour magnification of the crops in figures.
        notes: Extra notes per table stem (:func:`read_notes`), listed under that table.
        published: The literature's values (:func:`read_published`), shown in a ``published`` column
            beside the metric of the rows (whole tables and breakdown levels) they are given for.
        figure_sources: Test sources (``kodak``, ``folder:set14``) whose tables get a comparison figure;
            None for every source. A figure shows pixels of the test images, so a published run names
            only the sources whose images may be redistributed.
        prose: Markdown files whose generated blocks are filled from the results
            (:mod:`pixbench.leaderboard.prose`); ``out_dir/README.md`` is filled too where it has blocks.
        progress: Told the tables written so far (phase ``tables``), before each and at the end.

    Returns:
        What was written per table, and warnings (separated results, figure problems).
    """
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
    published = published or Published()
    written: list[Written] = []
    shown = None if figure_sources is None else set(figure_sources)
    levels_shown: set[tuple] = set()
    for done, table in enumerate(tables):
        progress("tables", done, len(tables))
        table.notes.extend(notes.get(table.stem, []))
        comparison = figures and (shown is None or table.source in shown)
        written.append(_write_with_levels(table, out, published, figures, comparison, zoom, warnings, levels_shown))
    warnings += _unshown(published, levels_shown, {t.stem: t for t in tables})
    _write_index(out, tables)
    _write_prose(out, tables, prose)
    progress("tables", len(tables), len(tables))
    return written, warnings


def _write_with_levels(
    table: Table,
    out: Path,
    published: Published,
    figures: bool,
    comparison: bool,
    zoom: int,
    warnings: list[str],
    levels_shown: set[tuple],
) -> Written:
    """One table with its published values, then its breakdown tables; adds the levels shown to ``levels_shown``."""
    table.published, table.references = published.values(table.stem), published.references_of(table.stem)
    written = _write_table(table, out, figures=figures, comparison=comparison, zoom=zoom, warnings=warnings)
    files, levels = write_levels(table, out, published)
    written.files.extend(files)
    levels_shown |= levels | {(table.stem, ())}
    return written


def _write_index(out: Path, tables: list[Table]) -> None:
    """The pages across test sources, then the index that lists every table and those pages."""
    pages = write_sources_pages(tables, out)
    write_bytes_atomic(out / "index.md", (index_markdown(tables) + sources_index(pages)).encode("utf-8"))


def _write_prose(out: Path, tables: list[Table], prose: Iterable[str | os.PathLike]) -> None:
    """Fill the generated blocks of the prose files (and of ``out/README.md`` where it has any)."""
    readme = out / "README.md"
    documents = [Path(p) for p in prose]
    if readme.is_file() and find_blocks(readme.read_text(encoding="utf-8"), str(readme)):
        documents.insert(0, readme)
    for document in dict.fromkeys(documents):
        text = fill_prose(document, tables, out)
        if text != document.read_text(encoding="utf-8"):
            write_bytes_atomic(document, text.encode("utf-8"))


def _write_table(
    table: Table, out: Path, *, figures: bool, comparison: bool, zoom: int, warnings: list[str]
) -> Written:
    """Write one table's Markdown and CSV, its speed plot with ``figures`` and its comparison figure with
    ``comparison``; problems go to ``warnings`` and its notes."""
    _, unreadable = load_samples(table.results)
    warnings.extend(f"{table.stem}: {note}" for note in unreadable)
    table.notes.extend(unreadable)
    stats = table_statistics(table)
    files: list[Path] = []
    figure_name = speed_name = None
    if comparison and get_task(table.task).restores:
        figure = comparison_figure(table, zoom=zoom)
        warnings.extend(f"{table.stem}: {note}" for note in figure.notes)
        table.notes.extend(figure.notes)
        if figure.png is not None:
            figure_name = f"{table.stem}.png"
            table.figure_caption = figure.caption
            write_bytes_atomic(out / figure_name, figure.png)
            files.append(out / figure_name)
    if figures:
        png, plot_notes = speed_plot(table)
        table.notes.extend(plot_notes)
        if png is not None:
            speed_name = f"{table.stem}-speed.png"
            write_bytes_atomic(out / speed_name, png)
            files.append(out / speed_name)
    write_bytes_atomic(out / f"{table.stem}.csv", csv_text(table, out, stats).encode("utf-8"))
    write_bytes_atomic(
        out / f"{table.stem}.md", table_markdown(table, out, figure_name, stats, speed_name).encode("utf-8")
    )
    return Written(table, [out / f"{table.stem}.md", out / f"{table.stem}.csv", *files])


def _unshown(published: Published, shown: set[tuple], tables: dict[str, Table]) -> list[str]:
    """Warnings for published rows that no written table shows, and for metrics a table has no column of."""
    out = []
    for row in published.rows:
        if (row.table, row.where) not in shown:
            level = ", ".join(f"{k}={v}" for k, v in row.where) or "the whole table"
            out.append(f"published row for {row.table} ({row.model}, {level}) matches no table written")
            continue
        keys = {c.key for c in get_task(tables[row.table].task).columns}
        for key in sorted(set(row.metrics) - keys):
            out.append(f"published row for {row.table} ({row.model}): {key!r} is not a column of that table")
    return out
