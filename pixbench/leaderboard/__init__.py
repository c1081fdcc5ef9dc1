"""Leaderboard tables built from result files alone.

``pixbench leaderboard RESULTS... -o DIR`` reads the JSON files that ``pixbench
evaluate`` wrote (``docs/result-format.md``, read by :mod:`pixbench.results`) and
writes, per benchmark, a Markdown table, a CSV table, a speed-quality plot and, for
restoration tasks, a visual comparison PNG. Every table carries bootstrap intervals and
a paired test of each row against the next, from the per-sample files beside the results
(``docs/statistics.md``); :func:`compare_results` runs that test for any two results.
Nothing else is read: no dataset, no model. That keeps every
published number traceable to one result file, which each row links to.

Which results share a table (one benchmark, one evaluation set) is the rule of
:mod:`pixbench.leaderboard.group`.

Output bytes depend only on the result files and on where they lie relative to
the output folder: rows are sorted with a total order, numbers are formatted
with fixed precision, and no timestamps or absolute paths are written.

Modules: :mod:`~pixbench.leaderboard.group` (results into ranked tables),
:mod:`~pixbench.leaderboard.render` (Markdown and CSV), :mod:`~pixbench.leaderboard.figures`
(comparison PNGs), :mod:`~pixbench.leaderboard.speed` (speed-quality plots),
:mod:`~pixbench.leaderboard.uncertainty` (intervals and paired tests), :mod:`~pixbench.leaderboard.compare`
(two results), :mod:`~pixbench.leaderboard.notes` (notes written by hand),
:mod:`~pixbench.leaderboard.published` (the literature's numbers, ``--published``),
:mod:`~pixbench.leaderboard.levels` and :mod:`~pixbench.leaderboard.level_pages` (the breakdown
tables, one per level of a column the task lists),
:mod:`~pixbench.leaderboard.hosts` (where a speed column was timed, and its cells),
:mod:`~pixbench.leaderboard.training` (the ``train min`` column), :mod:`~pixbench.leaderboard.goals`
(targets of chosen rows), :mod:`~pixbench.leaderboard.prose` (generated blocks in Markdown prose),
:mod:`~pixbench.leaderboard.write` (the whole command) and :mod:`~pixbench.leaderboard.check`
(``--check``: a published folder agrees with itself).
"""

from pixbench.leaderboard.check import check_leaderboards
from pixbench.leaderboard.compare import Comparison, check_comparable, compare_results
from pixbench.leaderboard.group import Table, group_results
from pixbench.leaderboard.notes import read_notes
from pixbench.leaderboard.published import Published, PublishedFileError, parse_published, read_published
from pixbench.leaderboard.render import table_title
from pixbench.leaderboard.write import Written, build_leaderboards
from pixbench.results import ResultFileError

__all__ = [
    "Comparison",
    "Published",
    "PublishedFileError",
    "ResultFileError",
    "Table",
    "Written",
    "build_leaderboards",
    "check_leaderboards",
    "check_comparable",
    "compare_results",
    "group_results",
    "parse_published",
    "read_notes",
    "read_published",
    "table_title",
]
