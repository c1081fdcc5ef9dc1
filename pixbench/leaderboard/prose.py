"""Prose whose numbers come from the result files: generated blocks inside hand-written Markdown.

A Markdown file (a leaderboard folder's ``README.md``, a task page) marks each passage that quotes
results with two comments, and ``pixbench leaderboard`` fills the passage from the result files::

    <!-- pixbench:begin targets trained -->
    ...generated text...
    <!-- pixbench:end -->

Kinds of block (the words after ``begin``):

- ``targets GROUP``: a table of the rows of group ``GROUP`` of the folder's ``targets.json``
  (:mod:`pixbench.leaderboard.goals`): training record, the numbers the targets read, each target
  and whether it is met, and a summary line.
- ``photos SOURCE``: per table of test source ``SOURCE``: rows, source photos and samples scored,
  and the source images its test set skipped (from the ``dataset.json`` beside the results).
- ``published TASK``: for a task page, each published table of that task: its rows (trained or not)
  and the photos it scores.
- ``rows TABLE KEYS ROWS``: one line per row (result stems, comma-separated) of table ``TABLE`` with
  the metrics ``KEYS`` (comma-separated) and, for restorers, each gain over the degraded input.
- ``papers TASK``: for a task page, every row of that task's tables (whole, or one level of a
  breakdown) that the folder's ``published.yaml`` gives a paper's number for: pixbench's value beside
  the paper's, the reference, and the largest difference per metric.

Hand-written text around the blocks must not quote a result: ``pixbench leaderboard --check``
compares every block with a fresh rendering, so a stale number fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pixbench.errors import PixbenchError
from pixbench.leaderboard.goals import Entry, column, find_row, judge, read_targets, value
from pixbench.leaderboard.group import Table
from pixbench.leaderboard.papers import folder_published, largest_gaps, paper_rows, row_cells
from pixbench.leaderboard.render import fmt, relative_link
from pixbench.results import Result, read_samples, training_minutes, training_record, whole_run_recorded

BEGIN = re.compile(r"<!-- pixbench:begin ([^>]*?) -->\n")
END = "<!-- pixbench:end -->"


class ProseError(PixbenchError):
    """A generated block is malformed: unclosed, of an unknown kind, or naming what does not exist."""


@dataclass(frozen=True)
class Block:
    """One generated block of a file: its words (``targets trained``) and where its text lies."""

    words: tuple[str, ...]
    start: int
    end: int


def find_blocks(text: str, where: str) -> list[Block]:
    """The generated blocks of a Markdown text, in order.

    Raises:
        ProseError: A begin marker without its end marker.
    """
    blocks, at = [], 0
    while (match := BEGIN.search(text, at)) is not None:
        end = text.find(END, match.end())
        if end < 0:
            raise ProseError(f"{where}: '<!-- pixbench:begin {match.group(1)} -->' has no '{END}' after it")
        blocks.append(Block(tuple(match.group(1).split()), match.end(), end))
        at = end + len(END)
    return blocks


@dataclass
class Context:
    """What blocks are rendered from: the tables, the leaderboard folder, and the file being written."""

    tables: list[Table]
    folder: Path
    document: Path

    def link(self, path: Path) -> str:
        return relative_link(path, self.document.parent)


def render_block(words: tuple[str, ...], ctx: Context) -> str:
    """The text of one block (ending with a newline).

    Raises:
        ProseError: An unknown kind, or a group, source or task with nothing to show.
    """
    kind, args = (words[0], words[1:]) if words else ("", ())
    renderers = {
        "targets": (_targets, 1),
        "photos": (_photos, 1),
        "published": (_published, 1),
        "rows": (_rows, 3),
        "papers": (_papers, 1),
    }
    if kind not in renderers or len(args) != renderers[kind][1]:
        raise ProseError(
            f"{ctx.document}: unknown generated block {' '.join(words)!r}; expected 'targets GROUP', "
            "'photos SOURCE', 'published TASK', 'papers TASK' or 'rows TABLE KEY[,KEY...] ROW[,ROW...]'"
        )
    return renderers[kind][0](*args, ctx)


def fill_prose(document: Path, tables: list[Table], folder: Path) -> str:
    """The text of ``document`` with every generated block rendered afresh."""
    text = document.read_text(encoding="utf-8")
    ctx = Context(tables, folder, document)
    out, at = [], 0
    for block in find_blocks(text, str(document)):
        out += [text[at : block.start], render_block(block.words, ctx)]
        at = block.end
    return "".join(out) + text[at:]


def prose_disagreements(document: Path, tables: list[Table], folder: Path) -> list[str]:
    """One line per generated block of ``document`` that differs from a fresh rendering."""
    text = document.read_text(encoding="utf-8")
    ctx = Context(tables, folder, document)
    lines = []
    for block in find_blocks(text, str(document)):
        fresh, mine = render_block(block.words, ctx).splitlines(), text[block.start : block.end].splitlines()
        if fresh != mine:
            wrong = next((m for m, f in zip(mine, fresh) if m != f), None)
            right = next((f for m, f in zip(mine, fresh) if m != f), None)
            detail = f": {wrong!r} should read {right!r}" if wrong is not None else " (lines missing or extra)"
            lines.append(f"{document}: generated block '{' '.join(block.words)}' disagrees with the results{detail}")
    return lines


def _table(ctx: Context, stem: str) -> Table:
    table = next((t for t in ctx.tables if t.stem == stem), None)
    if table is None:
        raise ProseError(f"{ctx.document}: no table {stem!r} in the results")
    return table


def _table_link(ctx: Context, table: Table) -> str:
    return f"[`{table.stem}`](<{ctx.link(ctx.folder / (table.stem + '.md'))}>)"


def _training_text(result: Result) -> str:
    info = training_record(result)
    if info is None or training_minutes(result) is None:
        return "–"
    kept = f"step {int(info.get('steps', 0)):,} at {float(info.get('minutes', 0)):.1f} min"
    if whole_run_recorded(result):
        return f"{int(info.get('run_steps', 0)):,} steps in {float(info['run_minutes']):.1f} min; kept {kept}"
    return f"kept checkpoint: {kept} (whole run not recorded)"


def _targets(group: str, ctx: Context) -> str:
    entries = read_targets(ctx.folder / "targets.json").get(group)
    if not entries:
        raise ProseError(f"{ctx.document}: targets.json in {ctx.folder} has no group {group!r}")
    lines = ["| table | row | training | result | target | met |", "|---|---|---|---|---|---|"]
    missed, minutes = [], {}
    for entry in entries:
        table = _table(ctx, entry.table)
        result = find_row(table, entry.row)
        if result is None:
            raise ProseError(f"{ctx.document}: table {entry.table!r} has no row {entry.row!r}")
        cells, ok = _target_cells(table, result, entry)
        if not ok:
            missed.append(f"{result.model.name} ({table.stem})")
        if training_minutes(result) is not None:
            minutes[result.sha256] = training_minutes(result) or 0.0  # a model in two tables trained once
        row = f"{result.model.name}" + (
            f" ([`{Path(entry.config).name}`](<{ctx.link(ctx.folder / entry.config)}>))" if entry.config else ""
        )
        row += f", {entry.about}" if entry.about else ""
        lines.append(f"| {_table_link(ctx, table)} | {row} | {_training_text(result)} | " + " | ".join(cells) + " |")
    met = len(entries) - len(missed)
    summary = f"{met} of {len(entries)} rows meet every target" + (f"; missed: {', '.join(missed)}" if missed else "")
    if minutes:
        summary += f". The {len(minutes)} trainings' recorded minutes add up to {sum(minutes.values()):.1f}"
    return "\n".join(lines) + "\n\n" + summary + ".\n"


def _target_cells(table: Table, result: Result, entry: Entry) -> tuple[list[str], bool]:
    """The result, target and met cells of one row, and whether every target is met."""
    shown, wanted, verdicts = [], [], []
    for goal in entry.goals:
        name, unit, kind = _metric_name(table.task, goal.metric)
        verdict = judge(table, result, goal)
        text = f"{name} {fmt(verdict.value, kind)}{unit}"
        if goal.over is not None:
            ref = "input" if goal.over == "degraded" else goal.over
            text += f" ({ref} {fmt(verdict.reference, kind)})"
        bound = f"{100 * abs(goal.bound):g}%" if kind == "pct" else f"{abs(goal.bound):g}{unit}"
        if goal.over is not None:
            ref = "input" if goal.over == "degraded" else goal.over
            bound = ref if goal.bound == 0 else f"{ref} {'-' if goal.bound < 0 else '+'} {bound}"
        elif goal.bound < 0:
            bound = "-" + bound
        if text not in shown:
            shown.append(text)
        wanted.append(f"{name} {'<=' if goal.at_most else '>='} {bound}")
        word = "n/a" if verdict.met is None else "yes" if verdict.met else "**no**"
        gain = verdict.gain
        verdicts.append(word + (f" ({fmt(gain, 'gain')})" if gain is not None and kind != "pct" else ""))
    ok = all(judge(table, result, g).met for g in entry.goals)
    return ["; ".join(shown), "; ".join(wanted), "; ".join(verdicts)], ok


def _metric_name(task: str, key: str) -> tuple[str, str, str]:
    """A metric's name with its channel, its unit and its format: ``("PSNR (RGB)", " dB", "f2")``."""
    col = column(task, key)
    name = col.header.removesuffix(" dB") + (f" ({col.channel})" if col.channel else "")
    return name, " dB" if col.header.endswith(" dB") else "", col.fmt


def _rows(stem: str, keys: str, rows: str, ctx: Context) -> str:
    table = _table(ctx, stem)
    lines = []
    for row in rows.split(","):
        result = find_row(table, row)
        if result is None:
            raise ProseError(f"{ctx.document}: table {stem!r} has no row {row!r}")
        parts = []
        for key in keys.split(","):
            name, unit, kind = _metric_name(table.task, key)
            mine, degraded = value(result, key), value(result, key, who="degraded")
            text = f"{name} {fmt(mine, kind)}{unit}"
            if mine is not None and degraded is not None:
                text += f" ({fmt(mine - degraded, 'gain')} over the input)"
            parts.append(text)
        lines.append(f"- `{result.model.name}` on {_table_link(ctx, table)}: " + ", ".join(parts))
    return "\n".join(lines) + "\n"


def _photos(source: str, ctx: Context) -> str:
    tables = [t for t in ctx.tables if t.source == source]
    if not tables:
        raise ProseError(f"{ctx.document}: no table of source {source!r} in the results")
    lines = [
        "| table | rows | photos scored | samples | source images skipped |",
        "|---|---|---|---|---|",
    ]
    for table in tables:
        lines.append(
            f"| {_table_link(ctx, table)} | {len(table.results)} | {_photo_count(table)} | "
            f"{table.samples if table.samples is not None else '–'} | {_skipped(table)} |"
        )
    return "\n".join(lines) + "\n"


def _photo_count(table: Table) -> str:
    """Distinct source photos in the first row's per-sample file (every row scores the same samples)."""
    samples = read_samples(table.results[0])
    return "–" if samples is None else str(len(set(samples.images[~samples.failed].tolist())))


def _skipped(table: Table) -> str:
    """The source images the test set skipped, from the ``dataset.json`` beside the results."""
    path = table.results[0].path
    manifest = path.parent / "dataset.json" if path is not None else None
    if manifest is None or not manifest.is_file():
        return "not recorded"
    skipped = json.loads(manifest.read_text(encoding="utf-8")).get("skipped") or []
    return ", ".join(f"`{s.get('source_id')}`" for s in skipped) or "none"


def _combined(result: Result) -> str:
    """``name (rule of a and b)`` for a model file written by ``pixbench combine``, else ``""``."""
    try:
        args = json.loads(result.model.props.get("pixbench.model_args") or "{}")
    except json.JSONDecodeError:
        return ""
    members = args.get("members") if isinstance(args, dict) else None
    if not isinstance(members, list) or len(members) != 2 or "rule" not in args:
        return ""
    names = [str(m.get("model", "?")) if isinstance(m, dict) else "?" for m in members]
    return f"{result.model.name} ({args['rule']} of {names[0]} and {names[1]})"


def _published(task: str, ctx: Context) -> str:
    # named sources (kodak) before folders of one's own images (folder:set14)
    tables = sorted((t for t in ctx.tables if t.task == task), key=lambda t: (t.source.startswith("folder:"), t.stem))
    if not tables:
        raise ProseError(f"{ctx.document}: no table of task {task!r} in the results")
    paragraphs = []
    for table in tables:
        trained = [r.model.name for r in table.results if training_minutes(r) is not None]
        combined = [_combined(r) for r in table.results if training_minutes(r) is None and _combined(r)]
        others = [r.model.name for r in table.results if training_minutes(r) is None and not _combined(r)]
        subset = f", scored with `{table.results[0].subset}`" if table.results[0].subset else ""
        text = (
            f"- {_table_link(ctx, table)}: {len(table.results)} rows on {_photo_count(table)} photos of "
            f"`{table.source}` ({table.samples} samples{subset})."
        )
        if trained:
            text += f" Trained by `pixbench train` (the `train min` column): {', '.join(trained)}."
        if combined:
            text += f" Made by `pixbench combine` from two models: {', '.join(combined)}."
        if others:
            text += f" Baselines and models scored as committed: {', '.join(others)}."
        paragraphs.append(text)
    return "\n".join(paragraphs) + "\n"


def _papers(task: str, ctx: Context) -> str:
    rows = paper_rows(task, ctx.tables, folder_published(ctx.folder))
    if not rows:
        raise ProseError(f"{ctx.document}: no row of task {task!r} has a published number in {ctx.folder}")
    lines = ["| table | level | row | pixbench (paper) | reference |", "|---|---|---|---|---|"]
    for row in rows:
        link = f"[`{row.page}`](<{ctx.link(ctx.folder / (row.page + '.md'))}>)"
        lines.append(
            f"| {link} | {row.level} | {row.result.model.name} | {row_cells(row)} | {', '.join(row.references)} |"
        )
    return "\n".join(lines) + f"\n\nLargest difference from the papers, per table: {largest_gaps(rows)}.\n"
