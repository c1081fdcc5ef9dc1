"""Breakdown tables: a table's rows again, ranked within each value (level) of a metadata column.

A task lists the metadata columns that get such tables (:attr:`pixbench.tasks.Task.table_breakdown`:
JPEG quality, pixelation or upscale factor, a detector's negative kind). For each column with at
least two levels among a table's results, ``<stem>-by-<column>.md`` and ``.csv`` hold one table
per level: each model's means over that level's samples (the ``breakdown`` section of its result
file), their bootstrap intervals and the paired test of each row against the next over the same
samples (from the per-sample files), the gains over the degraded input, and the literature's value
where ``published`` has one for that level. The tables of the whole benchmark are left as they are.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.leaderboard.group import Table
from pixbench.leaderboard.level_rows import level_sort_key
from pixbench.leaderboard.published import Published
from pixbench.leaderboard.uncertainty import RowStats, interval, interval_keys, load_samples, paired
from pixbench.results import METRIC_ALIASES, Result, Samples, number
from pixbench.tasks import Column, get_task


@dataclass
class LevelRow:
    """One model at one level: its means there, the degraded input's, and their uncertainty."""

    result: Result
    values: dict[str, float | None]
    degraded: dict[str, float | None]
    n: int | None
    stats: RowStats = field(default_factory=RowStats)
    published: dict[str, float] = field(default_factory=dict)


@dataclass
class Level:
    """The table of one value of a breakdown column, its rows ranked by the task's primary metric."""

    column: str
    value: str
    rows: list[LevelRow]
    references: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> dict[str, str]:
        return {self.column: self.value}


def level_values(table: Table, column: str) -> list[str]:
    """The values of ``column`` that the table's results break down by (an empty value, a sample without one, left out)."""
    found = {v for r in table.results for v in (r.breakdown.get(column) or {}) if v != ""}
    return sorted(found, key=level_sort_key)


#: Detection rates and the confusion counts that must not all be zero for the rate to say anything:
#: a level of negatives only (a negative kind) has no recall, precision or F1, one of positives only no FP rate.
_DENOMINATORS = {"recall": ("tp", "fn"), "f1": ("tp", "fn"), "precision": ("tp", "fn"), "fpr": ("fp", "tn")}


def group_value(group: dict[str, Any], key: str, who: str = "model") -> float | None:
    """A metric of one breakdown group: restoration groups hold ``<who>_<key>``, detection groups ``<key>``.

    A detection rate whose denominator is empty at this level (:data:`_DENOMINATORS`) is None.
    """
    counts = [number(group.get(c)) for c in _DENOMINATORS.get(key, ())]
    if counts and all(c is not None for c in counts) and not any(counts):
        return None
    for name in METRIC_ALIASES.get(key, (key,)):
        for candidate in (f"{who}_{name}", name) if who == "model" else (f"{who}_{name}",):
            value = number(group.get(candidate))
            if value is not None:
                return value
    return None


def _labels(samples: Samples, column: str, cache: dict[tuple[Path, str], np.ndarray | None]) -> np.ndarray | None:
    """Each sample's value of ``column``, as the text of its per-sample file (None when the file lacks it)."""
    key = (samples.path, column)
    if key not in cache:
        with samples.path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        cache[key] = np.array([r[column] for r in rows]) if rows and column in rows[0] else None
    return cache[key]


def _subset(samples: Samples, keep: np.ndarray) -> Samples:
    return Samples(
        path=samples.path,
        ids=samples.ids[keep],
        images=samples.images[keep],
        failed=samples.failed[keep],
        columns={name: values[keep] for name, values in samples.columns.items()},
        threshold=samples.threshold,
    )


def _level_rows(
    table: Table, column: str, value: str, entries: list[tuple[Result, Samples | None]], cache: dict
) -> list[LevelRow]:
    """Every result's row at one level, ranked, with intervals and the paired test of each row against the next."""
    task = get_task(table.task)
    keys = [c.key for c in task.columns]
    rows = []
    for result, loaded in entries:
        group = (result.breakdown.get(column) or {}).get(value) or {}
        labels = _labels(loaded, column, cache) if loaded is not None else None
        part = _subset(loaded, labels == value) if labels is not None else None
        row = LevelRow(
            result=result,
            values={k: group_value(group, k) for k in keys},
            degraded={k: group_value(group, k, "degraded") for k in keys},
            n=int(group["n"]) if isinstance(group.get("n"), int) else None,
        )
        if part is not None and len(part.ids):
            row.stats.intervals = {k: ci for k in interval_keys(table.task) if (ci := interval(part, k)) is not None}
        rows.append((row, part))
    # a level of regions (localize's size, shape, ...) has no image metric: it ranks by its first column with values
    ranked = [task.primary] + [k for k in keys if k != task.primary]
    key = next((k for k in ranked if any(r.values.get(k) is not None for r, _ in rows)), task.primary)
    rows.sort(key=lambda pair: _rank(pair[0], key))
    for (row, part), below in zip(rows, [*rows[1:], (None, None)]):
        if part is not None and below[1] is not None:
            row.stats.vs_next = paired(below[1], part, task.primary)  # this row minus the row below
    return [row for row, _ in rows]


def _rank(row: LevelRow, primary: str) -> tuple:
    score = row.values.get(primary)
    result = row.result
    return (score is None, -(score or 0.0), result.model.name, result.sha256, result.path.resolve().as_posix())


def table_levels(table: Table, column: str, samples: list[Samples | None], published: Published) -> list[Level]:
    """The level tables of one breakdown column (none when the results have fewer than two levels).

    ``samples`` are the per-sample files of ``table.results``; a level also ranks the table's level rows
    of that level (:mod:`pixbench.leaderboard.level_rows`), whose files are read here.
    """
    values = level_values(table, column)
    if len(values) < 2:
        return []
    cache: dict[tuple[Path, str], np.ndarray | None] = {}
    filtered, _ = load_samples([row.result for row in table.level_rows])
    levels = []
    for value in values:
        entries = list(zip(table.results, samples, strict=True))
        entries += [
            (row.result, loaded)
            for row, loaded in zip(table.level_rows, filtered, strict=True)
            if (row.column, row.value) == (column, value)
        ]
        level = Level(column, value, _level_rows(table, column, value, entries, cache))
        by_model = published.values(table.stem, level.where)
        for row in level.rows:
            row.published = by_model.get(row.result.model.name, {})
        level.references = published.references_of(table.stem, level.where)
        levels.append(level)
    return levels


def shown_columns(table: Table, levels: list[Level]) -> list[Column]:
    """The task's columns that some row of some level has a value for (block scores have no breakdown)."""
    columns = get_task(table.task).columns
    return [c for c in columns if any(row.values.get(c.key) is not None for lv in levels for row in lv.rows)]


def csv_rows(table: Table, levels: list[Level], out_dir: Path) -> list[dict[str, Any]]:
    """The rows of every level for ``<stem>-by-<column>.csv``: the level, then the main table's kinds of columns."""
    from pixbench.leaderboard.render import relative_link

    task = get_task(table.task)
    columns = shown_columns(table, levels)
    with_ci = {k for lv in levels for row in lv.rows for k in row.stats.intervals}
    with_published = {k for lv in levels for row in lv.rows for k in row.published}
    out = []
    for level in levels:
        for rank, row in enumerate(level.rows, start=1):
            raw: dict[str, Any] = {level.column: level.value, "rank": rank, "model": row.result.model.name}
            for c in columns:
                raw[c.name] = row.values[c.key]
                if c.key in with_ci:
                    ci = row.stats.intervals.get(c.key)
                    raw[f"{c.name}_ci_low"] = None if ci is None else _round(ci.low)
                    raw[f"{c.name}_ci_high"] = None if ci is None else _round(ci.high)
                if c.key in with_published:
                    raw[f"{c.name}_published"] = row.published.get(c.key)
            for c in (c for c in columns if c.key in task.gains):
                raw[f"gain_{c.name}"] = gain(row, c.key)
            test = row.stats.vs_next
            raw["p_vs_next"] = None if test is None else _round(test.p_value)
            raw["diff_vs_next"] = None if test is None else _round(test.difference)
            raw["n"] = row.n
            raw.update(dataset_fingerprint=row.result.fingerprint, model_sha256=row.result.sha256)
            raw["result"] = relative_link(row.result.path, out_dir)
            out.append(raw)
    return out


def gain(row: LevelRow, key: str) -> float | None:
    """The model's value minus the degraded input's at this level, rounded like the main table's gains."""
    model, degraded = row.values.get(key), row.degraded.get(key)
    if model is None or degraded is None or not np.isfinite(model) or not np.isfinite(degraded):
        return None
    return round(model - degraded, 6)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def levels_csv(table: Table, levels: list[Level], out_dir: Path) -> str:
    """``<stem>-by-<column>.csv``: a header line, then one line per model and level; ``""`` for unknown values."""
    from pixbench.leaderboard.render import rows_csv

    return rows_csv(csv_rows(table, levels, out_dir))
