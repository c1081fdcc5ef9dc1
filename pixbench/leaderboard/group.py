"""Grouping result files into ranked tables, one per benchmark and evaluation set.

A *benchmark* is task x recipe ``name@version`` x source. Inside one benchmark,
rows are ranked together only when they were scored on the same *evaluation set*:
the same dataset fingerprint, split, number of samples and subset options
(``evaluate --limit/--factor/--quality``). Results of one
benchmark that disagree on any of these are **separated** into their own tables
(with a warning), or rejected with ``strict=True``; they are never mixed. The exception is a row
scored on one level of the main set's samples (``--quality 10`` beside rows scored on every quality):
it is kept with the main table as a *level row*, ranked only in the breakdown table of its level
(:mod:`pixbench.leaderboard.level_rows`). A set scored at another level of the main set's filter
(``--factor 2`` beside ``--factor 4``) is a *sibling level*: a table of its own, named by its level.
Rows are sorted with a total order, so equal inputs give equal tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pixbench.leaderboard.level_rows import (
    Filtered,
    fold_level_rows,
    level_row_note,
    level_sort_key,
    sibling_level,
    sibling_stem,
)
from pixbench.results import Result, ResultFileError, metric
from pixbench.tasks import Column, get_task, primary_metric

#: Hex digits kept when a hash is shown in a table.
SHORT_HASH = 12


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
    #: The literature's values for rows of the whole table: model name -> metric key -> value.
    published: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The references those values come from: key -> citation.
    references: dict[str, str] = field(default_factory=dict)
    #: Rows scored on one level only, ranked in that level's breakdown table and not in this one.
    level_rows: list[Filtered] = field(default_factory=list)
    #: ``(column, value)`` of a sibling level's table (``("factor", "2")``); None for every other table.
    level: tuple[str, str] | None = None


def primary_column(task: str) -> Column:
    """The column of the metric that ranks a table of ``task``."""
    info = get_task(task)
    return next(c for c in info.columns if c.key == info.primary)


def _rank_key(result: Result) -> tuple:
    score = metric(result.model_metrics, primary_metric(result.task))
    # Missing scores sink to the bottom; ties break on name, hash and file, so the order is total.
    return (
        score is None,
        -(score if score is not None else 0.0),
        result.model.name,
        result.sha256,
        result.path.resolve().as_posix(),
    )


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
    for (task, recipe, version, source), found in benchmarks.items():
        base = _stem(task, recipe, version, source)
        evalsets, main, level_rows = fold_level_rows(found, get_task(task).table_breakdown)
        siblings = {key: level for key, group in evalsets.items() if (level := _sibling(group, main))}
        separate = [group for key, group in evalsets.items() if key not in siblings]
        if len(separate) > 1:
            a, b = (group[0] for group in separate[:2])
            message = (
                f"{recipe}@{version} on {source}: results disagree on the evaluation set "
                f"({a.path}: {_evalset_text(a)}; {b.path}: {_evalset_text(b)})"
            )
            if strict:
                raise ResultFileError(message + "; rebuild the dataset or re-evaluate so that they match")
            warnings.append(message + "; written as separate tables")
        alone = len(separate) == 1
        stems = {key: _table_stem(base, key, siblings.get(key), alone=alone) for key in evalsets}
        main_stem = next(stems[key] for key, group in evalsets.items() if group is main)
        for key, group in evalsets.items():
            level, stem = siblings.get(key), stems[key]
            table = Table(
                task=task,
                recipe=recipe,
                version=version,
                source=source,
                fingerprint=key[0],
                split=key[1],
                samples=group[0].samples,
                results=sorted(group, key=_rank_key),
                stem=stem,
                level=level,
            )
            if group is main:
                table.level_rows = sorted(level_rows, key=lambda row: _rank_key(row.result))
                table.notes += [level_row_note(row, stem) for row in table.level_rows]
                if siblings:
                    table.notes.append(_siblings_note(base, main[0], list(siblings.values())))
            if level:
                table.notes.append(_sibling_note(main_stem, level, main[0]))
            elif len(separate) > 1:
                table.notes.append(
                    "Other results of this benchmark were scored on a different evaluation set and are in "
                    "separate tables; the two are not comparable."
                )
            tables.append(table)
    return sorted(tables, key=lambda t: t.stem), warnings


def _table_stem(base: str, key: tuple, level: tuple[str, str] | None, *, alone: bool) -> str:
    """The file stem of one evaluation set's table: the benchmark's own, a sibling level's, or a separated set's."""
    fingerprint, split, n, subset = key
    if level:
        return sibling_stem(base, *level)
    if alone:
        return base
    stem = f"{base}-{short(fingerprint, 8)}-{split}-n{n}"
    return stem + "-" + _slug(subset.replace("--", "").replace(" ", "")) if subset else stem


def _sibling(group: list[Result], main: list[Result]) -> tuple[str, str] | None:
    return None if group is main else sibling_level(group[0], main[0])


def _siblings_note(base: str, main: Result, levels: list[tuple[str, str]]) -> str:
    levels = sorted(levels, key=lambda level: (level[0], level_sort_key(level[1])))
    links = ", ".join(f"[{column} {value}](<{sibling_stem(base, column, value)}.md>)" for column, value in levels)
    return (
        f"This table scores the samples of `{main.subset}`; the same benchmark at other levels, each on the "
        f"samples of its own level, is in the tables of {links}."
    )


def _sibling_note(main_stem: str, level: tuple[str, str], main: Result) -> str:
    column, value = level
    return (
        f"The {column} {value} samples of the benchmark only; the [main table](<{main_stem}.md>) scores "
        f"`{main.subset}`. Means here are over these samples alone, so they do not compare with that table's."
    )


def _evalset_text(result: Result) -> str:
    subset = f", {result.subset}" if result.subset else ""
    return f"fingerprint {short(result.fingerprint)}, split {result.split}, {result.samples} samples{subset}"


def short(digest: str, n: int = SHORT_HASH) -> str:
    """``sha256:abc...`` or ``abc...`` shortened to ``n`` hex digits."""
    return digest.split(":", 1)[-1][:n]
