"""Rows scored on one level of a dataset that mixes levels, and where they are ranked.

``pixbench evaluate --factor F`` or ``--quality Q`` scores only the samples of one pixelation or
upscale factor, or one JPEG quality. On a dataset that mixes levels (``jpeg-gray`` holds q10 to q40),
such a row's means are over that level's samples alone, so it must not be ranked against rows
whose means pool every level. Inside one benchmark, the *main* evaluation set is the one most rows
were scored on (fewest level filters on a tie): a depixelate table that scores every row with
``--factor 4`` keeps them all, since they share one filter. A set that adds exactly one level
filter to the main one, on the same dataset fingerprint, split and ``--limit``, becomes *level rows*
of the main table: they leave the pooled table and join the breakdown table of their level
(``<stem>-by-<column>``), where every row's means are over the same samples. A filter on a column
the main table has no breakdown table of stays a table of its own, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixbench.results import Result

#: ``evaluate`` settings that score one level, each filtering the metadata column of the same name.
LEVEL_SETTINGS = ("factor", "quality")


@dataclass(frozen=True)
class Filtered:
    """A row scored on one level only: its result, and the column and value of that level."""

    result: Result
    column: str
    value: str


def level_filter(result: Result) -> frozenset[tuple[str, str]]:
    """The ``(column, value)`` pairs that ``result`` was filtered to (``{("quality", "10")}``), as text."""
    settings = result.settings
    return frozenset((k, str(v)) for k in LEVEL_SETTINGS if (v := getattr(settings, k, None)) not in (None, ""))


def by_column_stem(stem: str, column: str) -> str:
    """The file stem of a table's breakdown by ``column``: ``<stem>-by-<column>``."""
    return f"{stem}-by-{column.replace('_', '-')}"


def levels_of(results: list[Result], column: str) -> set[str]:
    """The values of ``column`` that the results break down by (an empty value left out)."""
    return {v for r in results for v in (r.breakdown.get(column) or {}) if v != ""}


def fold_level_rows(
    evalsets: dict[tuple, list[Result]], breakdown: tuple[str, ...]
) -> tuple[dict[tuple, list[Result]], list[Result], list[Filtered]]:
    """Take the level rows out of one benchmark's evaluation sets.

    Args:
        evalsets: The benchmark's results by evaluation set (:attr:`Result.evalset_key`), in reading order.
        breakdown: The columns the task writes breakdown tables of (:attr:`Task.table_breakdown`).

    Returns:
        The evaluation sets left (order kept), the main one's results, and the level rows of the main one.
    """
    if len(evalsets) < 2:
        return evalsets, next(iter(evalsets.values()), []), []
    main_key = min(evalsets, key=lambda k: (-len(evalsets[k]), len(level_filter(evalsets[k][0])), str(k)))
    main = evalsets[main_key]
    main_filter, limit = level_filter(main[0]), main[0].settings.limit
    kept: dict[tuple, list[Result]] = {}
    rows: list[Filtered] = []
    for key, group in evalsets.items():
        first = group[0]
        extra = level_filter(first) - main_filter
        same_set = key[:2] == main_key[:2] and first.settings.limit == limit and main_filter < level_filter(first)
        if key != main_key and same_set and len(extra) == 1:
            ((column, value),) = extra
            levels = levels_of(main, column)
            if column in breakdown and value in levels and len(levels) >= 2:
                rows += [Filtered(r, column, value) for r in group]
                continue
        kept[key] = group
    return kept, main, rows


def level_row_note(row: Filtered, stem: str) -> str:
    """The pooled table's note on a row ranked only in the table of its level."""
    return (
        f"{row.result.model.name} was scored on {row.column} {row.value} only (`{row.result.subset}`): it is "
        f"ranked in the [{row.column} {row.value} table](<{by_column_stem(stem, row.column)}.md>), not here, "
        f"where the means pool every {row.column}."
    )
