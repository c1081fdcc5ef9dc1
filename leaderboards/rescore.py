"""Scores again, speed kept: re-evaluate a published row without re-timing it.

``reproduce.py --rescore`` runs ``pixbench evaluate --no-speed`` for every row (new metrics, such as
LPIPS once its backbone is there, new per-sample files and crops) and then gives the new result file
the ``speed`` and ``environment`` sections of the file it replaces, with the speed settings and the
targets that follow from them: the scores do not depend on the host, the FPS column does, and it
stays what the last speed run (``reproduce.py --speed``) measured. A row without an earlier file
keeps what the evaluation wrote.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pixbench.results import Result, read_result, write_result
from pixbench.results.targets import targets


def keep_speed(old: Result, new: Result) -> Result:
    """``new`` (scored without timing) with ``old``'s speed, environment, speed settings and targets."""
    settings = dataclasses.replace(
        new.settings, speed_warmup=old.settings.speed_warmup, speed_runs=old.settings.speed_runs
    )
    fps = old.speed.fps_1080p if old.speed is not None else None
    checked = targets(new.task, new.model_metrics.get("accuracy"), new.model.size_mb or 0.0, fps)
    return dataclasses.replace(new, speed=old.speed, settings=settings, targets=checked, environment=old.environment)


def rescored(path: Path, old: Result | None) -> None:
    """Rewrite the result at ``path`` (just written by ``evaluate --no-speed``) with ``old``'s timing."""
    if old is None or old.speed is None:
        return
    write_result(path, keep_speed(old, read_result(path)))
