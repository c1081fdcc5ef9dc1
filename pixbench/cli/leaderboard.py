"""`pixbench leaderboard`: tables (Markdown + CSV), speed-quality plots and comparison figures from result files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pixbench.cli._common import err_console, fail, handle_errors, output_folder, progress_bar, say

ResultsArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Result JSON files written by `pixbench evaluate`, or folders searched recursively for them.",
        show_default=False,
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Folder for the tables; links in them are relative to it. Created if missing.",
        show_default=False,
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail when results of one benchmark were scored on different dataset fingerprints, splits, sample "
        "counts or subsets (evaluate --limit/--factor). Without it they are written as separate tables, never ranked together.",
    ),
]
FiguresOpt = Annotated[
    bool,
    typer.Option(
        "--figures/--no-figures",
        help="Write the PNGs beside each table: a speed-quality plot (`<table>-speed.png`, FPS at 1080p against "
        "the primary metric) and, per restoration benchmark, a visual comparison (degraded | each model | clean) "
        "built from the `<stem>.crops.png` files beside the results.",
    ),
]
ZoomOpt = Annotated[
    int, typer.Option("--zoom", min=1, max=8, help="Nearest-neighbour magnification of the crops in figures.")
]
FigureSourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--figure-source",
        help="Draw comparison figures only for tables of this test source (repeatable, e.g. `--figure-source kodak`): "
        "a figure shows pixels of the test images, so publish it only where they may be redistributed. "
        "Default: every source.",
        show_default=False,
    ),
]
CheckOpt = Annotated[
    Path | None,
    typer.Option(
        "--check",
        help="Check a published leaderboard folder instead of writing one: every result against its model file "
        "(DIR/models), dataset.json and per-sample file; every table cell, note and link against a fresh "
        "rendering; every generated block of DIR/README.md and of --prose files. One line per disagreement, exit 1.",
        show_default=False,
    ),
]
ProseOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--prose",
        help="Markdown file whose generated blocks (`<!-- pixbench:begin ... -->`) are filled from the results "
        "(repeatable); OUT/README.md is filled too where it has blocks. With --check: checked instead.",
        show_default=False,
    ),
]
NotesOpt = Annotated[
    Path | None,
    typer.Option(
        "--notes",
        help="JSON file mapping a table stem to notes listed under that table, e.g. "
        '{"detect-v1-kodak": ["Trained for 3 epochs: not converged."]}: what the result files cannot say.',
        show_default=False,
    ),
]

PublishedOpt = Annotated[
    Path | None,
    typer.Option(
        "--published",
        help="YAML file of the numbers papers report for rows of these tables (leaderboards/published.yaml): "
        "each is shown in a `published` column beside pixbench's value, with the paper in the table notes.",
        show_default=False,
    ),
]


@handle_errors
def leaderboard(
    results: ResultsArg = None,
    out: OutOpt = None,
    strict: StrictOpt = False,
    figures: FiguresOpt = True,
    zoom: ZoomOpt = 2,
    notes: NotesOpt = None,
    published: PublishedOpt = None,
    figure_source: FigureSourceOpt = None,
    check: CheckOpt = None,
    prose: ProseOpt = None,
) -> None:
    """Build one leaderboard per benchmark (task x recipe@version x source) from result files.

    Each benchmark gets DIR/<name>.md and DIR/<name>.csv, rows sorted by the task's
    primary metric (detect: accuracy; inpaint: PSNR over the holes; others: PSNR),
    and for restoration tasks DIR/<name>.png; a column the task breaks down by (JPEG quality,
    factor, ...) with two or more values gets DIR/<name>-by-<column>.md/.csv, one table per value.
    DIR/index.md lists the benchmarks.
    Rebuilding from the same results writes the same bytes. With --check DIR nothing is
    written: the folder is checked against its results, one line per disagreement.
    """
    from pixbench.leaderboard import build_leaderboards, read_notes, read_published, table_title
    from pixbench.tasks import primary_metric

    if check is not None:
        if results or out is not None:
            raise fail("--check DIR takes no RESULTS and no -o: it reads DIR/results and checks DIR itself")
        _check(check, prose or [])
        return
    if not results or out is None:
        raise fail("give RESULTS... and -o OUT to write tables, or --check DIR to check a published folder")
    output_folder("-o", out)
    extra, papers = read_notes(notes) if notes else None, read_published(published) if published else None
    with progress_bar() as progress:
        written, warnings = build_leaderboards(
            results,
            out,
            strict=strict,
            figures=figures,
            zoom=zoom,
            notes=extra,
            published=papers,
            figure_sources=figure_source,
            prose=prose or (),
            progress=progress,
        )
    for warning in warnings:
        say("[yellow]warning:[/yellow] {}", warning, to=err_console)
    for item in written:
        table = item.table
        say(
            "[green]{}[/green]: {} models, best {} by {} -> {}",
            table_title(table),
            len(table.results),
            table.results[0].model.name,
            primary_metric(table.task),
            ", ".join(str(p) for p in item.files),
        )
    say("index: {}", Path(out) / "index.md")


def _check(folder: Path, prose: list[Path]) -> None:
    """``--check``: one line per disagreement and exit 1, or one line saying that all agree."""
    from pixbench.leaderboard import check_leaderboards

    problems = check_leaderboards(folder, prose=prose)
    for line in problems:
        say("[red]disagrees:[/red] {}", line, to=err_console)
    if problems:
        raise fail(f"{folder}: {len(problems)} disagreement(s) between the results and what is published")
    say("[green]{}[/green]: results, model files, datasets, tables, links and generated prose agree", folder)
