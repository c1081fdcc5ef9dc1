"""Where a table's speed column was timed, and how its cells read.

A table's FPS column is meant to come from one host, one timing run and one number of timed
frames (``leaderboards/retime.py`` times every row that way). :func:`speed_column` finds the
timing most rows share (the column's); a row timed on another host, in another run or with
other repeats is marked ``†`` in its cell and named in the notes, because its FPS does not
compare with the others. The host is named from the result's recorded identity
(:attr:`pixbench.results.Environment.host`), so two machines never share a name.

FPS below 1 reads as seconds per frame (``125 s/frame``): no speed cell reads ``0.0``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pixbench.results import Result, number, seconds_per_frame

#: Marks a row whose FPS was not timed with the column's host, run and repeats.
ELSEWHERE = "†"


@dataclass(frozen=True)
class Timing:
    """How one row's FPS was timed: host, timing run (None when not recorded), warm-up and timed frames."""

    host: str
    run: str | None
    warmup: int | None
    runs: int | None

    def describe(self) -> str:
        """``<host>, <run>, median of N frames after W warm-up``."""
        run = f"timing run `{self.run}`" if self.run else "run not recorded"
        frames = f"median of {self.runs} frames" if self.runs else "frames not recorded"
        warmup = f" after {self.warmup} warm-up" if self.warmup is not None else ""
        return f"{self.host}, {run}, {frames}{warmup}"


def row_timing(result: Result) -> Timing | None:
    """The timing of a result's FPS, or None where it has none."""
    speed = result.speed
    if speed is None or number(speed.fps_1080p) is None:
        return None
    return Timing(result.environment.host, speed.run, speed.warmup, speed.runs)


@dataclass(frozen=True)
class SpeedColumn:
    """The timing most rows of a table share (ties go to the higher-ranked row); None when no row has FPS."""

    timing: Timing | None
    loads: tuple[float, ...] = ()
    #: ``speed.other_cpu`` of the column's rows: the other work on the host while each row was timed.
    others: tuple[float, ...] = ()

    def elsewhere(self, result: Result) -> bool:
        """Whether the row has FPS timed otherwise than the column."""
        timing = row_timing(result)
        return timing is not None and timing != self.timing


def speed_column(results: list[Result]) -> SpeedColumn:
    """The column's timing: the most common among rows with FPS, the first such row's on a tie."""
    timings = [t for t in (row_timing(r) for r in results) if t is not None]
    if not timings:
        return SpeedColumn(None)
    counts = Counter(timings)
    best = max(counts.values())
    chosen = next(t for t in timings if counts[t] == best)
    rows = [r for r in results if r.speed is not None and row_timing(r) == chosen]
    loads = tuple(float(r.speed.load_1min) for r in rows if r.speed.load_1min is not None)
    others = tuple(float(r.speed.other_cpu) for r in rows if r.speed.other_cpu is not None)
    return SpeedColumn(chosen, loads, others)


def fps_text(result: Result) -> str:
    """FPS at 1080p as a cell shows it: one decimal from 1 FPS up, seconds per frame below, ``–`` without."""
    fps = number(result.speed.fps_1080p) if result.speed is not None else None
    if fps is None:
        return "–"
    if fps >= 1:
        return f"{fps:.1f}"
    seconds = seconds_per_frame(result)
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s/frame" if seconds >= 9.95 else f"{seconds:.1f} s/frame"


def speed_cell(result: Result, column: SpeedColumn) -> str:
    """:func:`fps_text`, with :data:`ELSEWHERE` where the row was timed otherwise than the column."""
    text = fps_text(result)
    return f"{text} {ELSEWHERE}" if column.elsewhere(result) else text


def resize_text(result: Result) -> str:
    """`` (resizes input to 128x128)`` for a model whose graph resizes the frame first, else ``""``."""
    size = result.speed.input_resized_to if result.speed is not None else None
    if not size or len(size) != 2:
        return ""
    return f" (resizes input to {int(size[0])}x{int(size[1])})"


def speed_sentence(column: SpeedColumn) -> str:
    """The line above a table that says where its FPS column was timed; ``""`` without FPS."""
    if column.timing is None:
        return ""
    busy = ""
    if column.others:  # what else ran while the frames were timed (the load average also counts the run itself)
        busy = f", other work on the host {min(column.others):.2f} to {max(column.others):.2f} cores while frames were timed"
    elif column.loads:
        busy = f", load average {min(column.loads):.2f} to {max(column.loads):.2f} when timing started"
    return (
        f"FPS 1080p timed on {column.timing.describe()}{busy}; {ELSEWHERE} marks a row timed on another "
        "host, in another run or with other repeats, whose FPS does not compare with the column."
    )


def speed_notes(results: list[Result], column: SpeedColumn) -> list[str]:
    """One note per row marked :data:`ELSEWHERE`, and one per model whose graph resizes its input."""
    lines = []
    for result in results:
        timing = row_timing(result)
        if timing is not None and column.elsewhere(result):
            lines.append(f"{ELSEWHERE} {result.model.name}: FPS timed on {timing.describe()}.")
        size = result.speed.input_resized_to if result.speed is not None else None
        if size and len(size) == 2:
            lines.append(
                f"{result.model.name} resizes every input to {int(size[0])}x{int(size[1])} inside its graph, so it "
                "scores and is timed on that thumbnail of the frame: its FPS does not compare with rows that "
                "process every pixel."
            )
    return lines
