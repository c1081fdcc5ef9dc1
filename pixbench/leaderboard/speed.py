"""The speed-quality plot of a table: FPS at 1080p against the primary metric, one point per row.

Marker area grows with model size (MB), the Pareto frontier (no other row is both faster
and better) is drawn, and a vertical line marks the FPS target. FPS measured on
different hardware is never silently put on one scale: each hardware setup gets its own
marker and colour, its own frontier, and the title says so.

The PNG is drawn with matplotlib's Agg backend and its default style at a fixed size
and dpi, without the ``Software`` metadata, so the bytes depend only on the table (for a
given matplotlib and FreeType build). matplotlib is imported inside :func:`speed_plot`,
so that reading tables does not pay for it.
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass
from typing import Any

from pixbench.leaderboard.group import Table, primary_column
from pixbench.results import TARGET_FPS_1080P, metric, number

SIZE_INCHES = (7.5, 4.8)
DPI = 100
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")
SIZE_LEGEND_MB = (0.01, 0.1, 1.0, 10.0)


def marker_area(size_mb: float | None) -> float:
    """Marker area in points^2: grows with the logarithm of the size, so 0.001 MB and 12 MB both stay readable."""
    return 30.0 + 60.0 * math.log10(1.0 + 100.0 * max(size_mb or 0.0, 0.0))


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points that no other point beats on both axes (higher x and higher y), by ascending x."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    frontier, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            frontier.append(i)
            best = points[i][1]
    return sorted(frontier, key=lambda i: points[i][0])


def speed_plot(table: Table) -> tuple[bytes | None, list[str]]:
    """The PNG of a table's speed-quality plot, and notes on rows that could not be drawn.

    Intervals are not drawn: an interval of one mean says little about the order of two
    rows scored on the same photos (the table's paired "vs next" column does).

    Returns:
        The PNG bytes (None when no row has both an FPS and a score), and notes.
    """
    column = primary_column(table.task)
    scale = 100.0 if column.fmt == "pct" else 1.0
    setups = list(dict.fromkeys(r.hardware for r in table.results))
    points, notes = _points(table, column.key, scale, setups)
    if not points:
        return None, notes

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(matplotlib.rcParamsDefault):
        figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        ax.set_xscale("log")
        used = sorted({p.setup for p in points})
        for setup in used:
            _draw_setup(ax, [p for p in points if p.setup == setup], setup, setups[setup], several=len(used) > 1)
        ax.axvline(
            TARGET_FPS_1080P, color="grey", linestyle=":", linewidth=1.2, label=f"{TARGET_FPS_1080P:g} FPS target"
        )
        for mb in SIZE_LEGEND_MB:
            ax.scatter([], [], s=marker_area(mb), c="white", edgecolors="grey", label=f"{mb:g} MB")
        fps_values = [p.fps for p in points] + [TARGET_FPS_1080P]
        ax.set_xlim(min(fps_values) / 1.6, max(fps_values) * 1.6)
        ax.set_xlabel("FPS at 1920x1080 (log scale)")
        ax.set_ylabel(column.header + (" (%)" if scale != 1.0 else ""))
        title = f"{table.recipe} v{table.version} on {table.source}: speed against {column.header}"
        if len(used) > 1:
            title += f"\nFPS measured on {len(used)} setups (marker = hw): compare FPS within one marker only"
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, labelspacing=1.2)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue(), notes


@dataclass
class _Point:
    """One row of the plot: model name, FPS, score (scaled as the axis shows it), size in MB, hardware index."""

    name: str
    fps: float
    score: float
    size_mb: float | None
    setup: int


def _points(table: Table, key: str, scale: float, setups: list[str]) -> tuple[list[_Point], list[str]]:
    """The rows that have a finite FPS and score, and a note for each row that has not."""
    points, notes = [], []
    for result in table.results:
        fps = number(result.speed.fps_1080p) if result.speed is not None else None
        score = metric(result.model_metrics, key)
        if fps is None or not math.isfinite(fps) or fps <= 0 or score is None or not math.isfinite(score):
            notes.append(f"speed plot: {result.model.name} not drawn (no {'FPS' if score is not None else key} value)")
            continue
        size = number(result.model.size_mb)
        points.append(_Point(result.model.name, fps, score * scale, size, setups.index(result.hardware)))
    return points, notes


def _draw_setup(ax: Any, group: list[_Point], setup: int, hardware: str, *, several: bool) -> None:
    """The points of one hardware setup, their labels and their Pareto frontier, in the setup's colour and marker."""
    colour, marker = COLOURS[setup % len(COLOURS)], MARKERS[setup % len(MARKERS)]
    ax.scatter(
        [p.fps for p in group],
        [p.score for p in group],
        s=[marker_area(p.size_mb) for p in group],
        c=colour,
        marker=marker,
        alpha=0.8,
        edgecolors="black",
        linewidths=0.5,
        # host names are long ("unrecorded host (<cpu>; <kernel build>)"): wrapped, so the axes keep their width
        label=textwrap.fill(f"H{setup + 1}: {hardware}" if several else f"FPS on {hardware}", 36),
        zorder=3,
    )
    for rank, p in enumerate(group):
        # Alternate labels above and below, so rows of close scores (ranked next to each other) stay readable.
        ax.annotate(
            p.name, (p.fps, p.score), xytext=(6, 4 if rank % 2 == 0 else -10), textcoords="offset points", fontsize=7
        )
    front = [group[i] for i in pareto([(p.fps, p.score) for p in group])]
    ax.plot(
        [p.fps for p in front],
        [p.score for p in front],
        color=colour,
        linestyle="--",
        linewidth=1,
        label="Pareto frontier" + (f" (H{setup + 1})" if several else ""),
        zorder=1,
    )
