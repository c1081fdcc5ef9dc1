"""Targets set for chosen rows of published tables, and whether the result files meet them.

A leaderboard folder may hold ``targets.json``: named groups of rows, each row naming its table
(stem), its result file (stem), its training configuration and the targets it was trained for::

    {"trained": [{"table": "jpeg-v1-kodak", "row": "blockcnn", "config": "configs/blockcnn.yaml",
                  "targets": [{"metric": "psnr", "over": "degraded", "at_least": 0.8}]}]}

A target reads one number of the row's result: a metric key of its task (``psnr``, ``accuracy``,
``triplets.psnr``), ``fps_1080p`` or ``seconds_per_frame``; ``over`` makes it a gain over the
degraded input (``degraded``) or over another row of the same table (its result stem); ``at_least`` or
``at_most`` is the bound. The generated prose blocks (:mod:`pixbench.leaderboard.prose`) print the
numbers and the verdicts, so a target never has to be quoted by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixbench.leaderboard.group import Table
from pixbench.results import Result, ResultFileError, number, result_value, seconds_per_frame
from pixbench.tasks import Column, get_task

#: Targets that read a result's speed rather than a metric.
SPEED_KEYS = ("fps_1080p", "seconds_per_frame")


@dataclass(frozen=True)
class Goal:
    """One target of one row: ``metric`` (over ``over``, if given) at least / at most ``bound``."""

    metric: str
    bound: float
    at_most: bool = False
    over: str | None = None


@dataclass(frozen=True)
class Entry:
    """A row with targets: its table stem, result stem, configuration (path under the folder) and a remark."""

    table: str
    row: str
    config: str | None
    about: str | None
    goals: tuple[Goal, ...]


def read_targets(path: Path) -> dict[str, list[Entry]]:
    """Read ``targets.json`` (the module docstring gives its form); an absent file is no targets.

    Raises:
        ResultFileError: The file is not JSON or not of that form, naming the first bad entry.
    """
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ResultFileError(f"{path}: expected an object mapping group names to lists of rows")
    return {
        group: [_entry(item, f"{path}: {group}[{i}]") for i, item in enumerate(rows)] for group, rows in doc.items()
    }


def _entry(item: Any, where: str) -> Entry:
    if not isinstance(item, dict) or not isinstance(item.get("table"), str) or not isinstance(item.get("row"), str):
        raise ResultFileError(f'{where}: expected an object with "table" and "row" strings, got {item!r}')
    goals = []
    for spec in item.get("targets", []):
        bound = spec.get("at_least", spec.get("at_most")) if isinstance(spec, dict) else None
        if not isinstance(spec.get("metric") if isinstance(spec, dict) else None, str) or number(bound) is None:
            raise ResultFileError(f'{where}: a target needs "metric" and "at_least" or "at_most", got {spec!r}')
        goals.append(Goal(spec["metric"], float(bound), "at_most" in spec, spec.get("over")))
    return Entry(item["table"], item["row"], item.get("config"), item.get("about"), tuple(goals))


def find_row(table: Table, row: str) -> Result | None:
    """The result of ``table`` whose file stem is ``row``: a ranked row, else a level row (one scored on one
    level only, such as ``--quality 10``, whose numbers are then that level's)."""
    found = (*table.results, *(f.result for f in table.level_rows))
    return next((r for r in found if r.path is not None and r.path.stem == row), None)


def value(result: Result, key: str, *, who: str = "model") -> float | None:
    """A number a target reads: a metric (:func:`pixbench.results.result_value`) or a speed key."""
    if key == "fps_1080p":
        return number(result.speed.fps_1080p) if result.speed is not None and who == "model" else None
    if key == "seconds_per_frame":
        return seconds_per_frame(result) if who == "model" else None
    return result_value(result, key, who=who)


def column(task: str, key: str) -> Column:
    """The table column of a metric key, or a plain one for the speed keys."""
    if key == "fps_1080p":
        return Column("fps_1080p", "FPS 1080p", key, "f1")
    if key == "seconds_per_frame":
        return Column("seconds_per_frame", "s per 1080p frame", key, "f2")
    found = next((c for c in get_task(task).columns if c.key == key), None)
    return found or Column(key, key, key, "f4")


@dataclass(frozen=True)
class Verdict:
    """A target checked: the row's number, the reference it is measured over, the gain, and whether it holds."""

    goal: Goal
    value: float | None
    reference: float | None
    met: bool | None

    @property
    def gain(self) -> float | None:
        if self.value is None or self.reference is None:
            return None
        return self.value - self.reference


def judge(table: Table, result: Result, goal: Goal) -> Verdict:
    """Whether ``result`` meets ``goal``; ``met`` is None where a number is missing."""
    mine = value(result, goal.metric)
    reference = None
    if goal.over == "degraded":
        reference = value(result, goal.metric, who="degraded")
    elif goal.over is not None:
        other = find_row(table, goal.over)
        reference = value(other, goal.metric) if other is not None else None
    measured = mine if goal.over is None else (None if mine is None or reference is None else mine - reference)
    if measured is None or math.isnan(measured):
        return Verdict(goal, mine, reference, None)
    met = measured <= goal.bound if goal.at_most else measured >= goal.bound
    return Verdict(goal, mine, reference, met)
