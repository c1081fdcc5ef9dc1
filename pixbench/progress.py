"""The one way long-running library code reports progress.

Library code never draws anything: it calls a :class:`Progress` it was given, and
the command line (``pixbench.cli``) turns the calls into a progress bar. A caller
that wants no progress passes nothing; functions then use :func:`silent`.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called as work advances.

    Args:
        phase: What is being done, in a few words ("source images", "train", "speed").
            Each distinct phase gets its own bar.
        done: Units finished so far in this phase (absolute, not an increment).
        total: Units the phase will take, or ``None`` when unknown.
        values: Live figures to show beside the bar (for example ``loss=0.12``).
    """

    def __call__(self, phase: str, done: int, total: int | None, /, **values: float) -> None: ...


def silent(phase: str, done: int, total: int | None, /, **values: float) -> None:
    """A :class:`Progress` that ignores every call."""
