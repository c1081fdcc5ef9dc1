"""The learning-rate schedule, a pure function of the fraction of the budget used; the budget; the whole-run cap.

The fraction is ``steps done / total steps`` for a steps or epochs budget (counted at the end
of the step about to run, so the last step sees 1.0) and ``training seconds elapsed / budget
seconds`` for a minutes budget (at the start of the step). Because the schedule depends only
on that fraction, a short run and a long run trace the same curve, each sized to its budget.

The cap (:class:`WallCap`, ``--max-minutes``) is not a budget: it never resizes the schedule, it
only stops a run early, so a run that ends within it has exactly the weights of an uncapped one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

SCHEDULES = ("constant", "cosine", "onecycle")
#: ``cosine`` decays to this share of the peak rate; linear warmup starts from it too.
COSINE_FLOOR = 0.01
#: ``onecycle`` starts at ``peak / ONECYCLE_START_DIV``, peaks at ``ONECYCLE_PEAK_AT`` of the
#: budget, then falls to ``peak / ONECYCLE_END_DIV`` (both halves cosine-shaped, as in
#: ``torch.optim.lr_scheduler.OneCycleLR``, but ending at peak/1e4 rather than start/1e4).
ONECYCLE_START_DIV = 25.0
ONECYCLE_PEAK_AT = 0.3
ONECYCLE_END_DIV = 1e4


def _cos_between(start: float, end: float, t: float) -> float:
    """Half a cosine from ``start`` (t=0) to ``end`` (t=1)."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * t))


def lr_factor(schedule: str, fraction: float, *, warmup: float = 0.0) -> float:
    """The learning rate as a share of the peak rate after ``fraction`` of the budget.

    Args:
        schedule: ``constant`` (the peak throughout), ``cosine`` (cosine decay from the peak to
            :data:`COSINE_FLOOR` of it) or ``onecycle`` (see :data:`ONECYCLE_PEAK_AT`).
        fraction: Share of the budget used, clipped to [0, 1].
        warmup: Share of the budget over which ``constant`` and ``cosine`` rise linearly from
            :data:`COSINE_FLOOR` to the peak (``onecycle`` has its own rise and ignores it).

    Raises:
        ValueError: Unknown schedule or a warmup outside [0, 1).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule {schedule!r}: expected one of {', '.join(SCHEDULES)}")
    if not 0.0 <= warmup < 1.0:
        raise ValueError(f"warmup {warmup!r}: expected a fraction in [0, 1)")
    f = min(max(float(fraction), 0.0), 1.0)
    if schedule == "onecycle":
        start, end = 1.0 / ONECYCLE_START_DIV, 1.0 / ONECYCLE_END_DIV
        if f < ONECYCLE_PEAK_AT:
            return _cos_between(start, 1.0, f / ONECYCLE_PEAK_AT)
        return _cos_between(1.0, end, (f - ONECYCLE_PEAK_AT) / (1.0 - ONECYCLE_PEAK_AT))
    if f < warmup:
        return COSINE_FLOOR + (1.0 - COSINE_FLOOR) * f / warmup
    if schedule == "constant":
        return 1.0
    return _cos_between(1.0, COSINE_FLOOR, (f - warmup) / (1.0 - warmup))


@dataclass(frozen=True)
class Budget:
    """How long a run trains: ``epochs``, ``steps`` or ``minutes``, and what follows from it.

    Args:
        kind: ``epochs`` (full passes), ``steps`` (optimiser steps; the last epoch may be
            partial) or ``minutes`` (training seconds; stops after the step at which it runs out).
        amount: How many of them.
        steps_per_epoch: Batches in one pass over the train split (an estimate when sample
            sizes differ, since samples of different sizes are never stacked).
    """

    kind: str
    amount: float
    steps_per_epoch: int

    @property
    def total_steps(self) -> int | None:
        """Optimiser steps the budget allows, or ``None`` for a minutes budget."""
        if self.kind == "steps":
            return int(self.amount)
        if self.kind == "epochs":
            return int(self.amount) * self.steps_per_epoch
        return None

    def fraction(self, steps_done: int, seconds: float) -> float:
        """Share of the budget used once the next step is done (steps) or now (minutes), in [0, 1]."""
        total = self.total_steps
        used = (steps_done + 1) / total if total else seconds / (60.0 * self.amount)
        return min(max(used, 0.0), 1.0)

    def exhausted(self, *, steps_done: int, epochs_done: int, seconds: float) -> bool:
        """Whether training is over (``epochs_done`` counts complete passes only)."""
        if self.kind == "steps":
            return steps_done >= self.amount
        if self.kind == "epochs":
            return epochs_done >= self.amount
        return seconds >= 60.0 * self.amount

    def progress(self, steps_done: int, seconds: float) -> tuple[int, int]:
        """``(done, total)`` for the progress bar: steps, or whole seconds of a minutes budget."""
        total = self.total_steps
        if total is None:
            budget = int(round(60.0 * self.amount))
            return min(int(seconds), budget), budget
        return min(steps_done, total), total


#: The closing (final validation and checkpoints) is reserved with this margin on its measured time.
CLOSING_MARGIN = 1.25
#: Seconds reserved for writing the checkpoints, ``metrics.csv`` and ``curves.png`` before a closing is measured.
SAVE_ALLOWANCE = 5.0


@dataclass
class WallCap:
    """A cap on the whole run's wall clock: setup, data, steps, validation and checkpoints, over all sessions.

    A run stops taking steps once the time left would not cover one more step and the closing
    (validating and saving the checkpoints), then closes: so it ends within the cap. At an epoch's
    end it asks for room for two closings (this end's and the final one) and one step, and otherwise
    makes this end the final one. A closing is the longest validated epoch end measured so far, times
    :data:`CLOSING_MARGIN`; before one is measured, ``closing_estimate`` (a timed validation batch
    scaled to the split, plus :data:`SAVE_ALLOWANCE`). A run always takes its first step, so a cap
    smaller than one step and one closing is overrun by those.

    Args:
        minutes: The cap, or None for none.
        spent: Wall seconds of the run's earlier sessions (up to their last checkpoint).
        started: ``time.perf_counter()`` when this session started.
    """

    minutes: float | None
    spent: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    closing_estimate: float = SAVE_ALLOWANCE
    closing: float = 0.0

    def seconds(self) -> float:
        """Wall seconds of the whole run so far."""
        return self.spent + time.perf_counter() - self.started

    def closed(self, seconds: float) -> None:
        """Record the wall seconds of a validated epoch end (validation, checkpoints, csv and curves)."""
        self.closing = max(self.closing, seconds)

    def reached(self, step_seconds: float, *, closings: int = 1) -> bool:
        """Whether one more step of ``step_seconds`` and ``closings`` closings would no longer fit in the cap."""
        if self.minutes is None:
            return False
        reserve = closings * CLOSING_MARGIN * (self.closing or self.closing_estimate)
        return self.seconds() + step_seconds + reserve >= 60.0 * self.minutes
