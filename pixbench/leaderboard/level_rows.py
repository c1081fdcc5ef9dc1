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

A set that filters the same columns as the main one to other values (``--factor 2`` beside a main set
scored with ``--factor 4``, on the same samples) is a *sibling level*: the same benchmark at another
level, published as a table of its own (``<stem>-factor-2``) that names its level in its title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixbench.results import Result

#: ``evaluate`` settings that score one level, each filtering the metadata column of the same name.
LEVEL_SETTINGS = ("factor", "quality")


#: A bucket label: ``<=64``, ``65-128``, ``>256``, ``>=16`` (or a plain number).
_BUCKET = re.compile(r"^(<=?|>=?)?(\d+(?:\.\d+)?)(?:-\d+(?:\.\d+)?)?$")


def level_sort_key(value: str) -> tuple:
    """Levels in numeric order where they are numbers (q10 before q100) or buckets of numbers
    (``<=64``, ``65-128``, ``129-256``, ``>256``, by where each starts), else by text."""
    found = _BUCKET.match(value)
    if found is None:
        return (1, 0.0, value)
    bound = float(found.group(2))
    side = found.group(1) or ""
    return (0, bound - 0.5 if side.startswith("<") else bound + 0.5 if side.startswith(">") else bound, value)


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


def sibling_level(result: Result, main: Result) -> tuple[str, str] | None:
    """``(column, value)`` when ``result`` scores the main set's samples at another level of one column.

    Both must be filtered on the same columns, on the same dataset fingerprint, split and ``--limit``,
    and differ in the value of exactly one column (``--factor 2`` against ``--factor 4``); otherwise None.
    """
    mine, theirs = dict(level_filter(result)), dict(level_filter(main))
    same_samples = (result.fingerprint, result.split) == (main.fingerprint, main.split)
    if not same_samples or result.settings.limit != main.settings.limit or not mine or mine.keys() != theirs.keys():
        return None
    differ = [column for column in mine if mine[column] != theirs[column]]
    return (differ[0], mine[differ[0]]) if len(differ) == 1 else None


def sibling_stem(stem: str, column: str, value: str) -> str:
    """The file stem of a sibling level's table: ``<stem>-<column>-<value>``."""
    return f"{stem}-{column.replace('_', '-')}-{value}"


def level_row_note(row: Filtered, stem: str) -> str:
    """The pooled table's note on a row ranked only in the table of its level."""
    return (
        f"{row.result.model.name} was scored on {row.column} {row.value} only (`{row.result.subset}`): it is "
        f"ranked in the [{row.column} {row.value} table](<{by_column_stem(stem, row.column)}.md>), not here, "
        f"where the means pool every {row.column}."
    )
