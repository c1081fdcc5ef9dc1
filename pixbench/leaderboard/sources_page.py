"""One page per detection benchmark across its test sources: does a detector keep its numbers elsewhere?

A detector's accuracy and false-positive rate on Kodak say little about photos it has never seen.
For each benchmark of a task that classifies (``detect``) scored on two test sources or more,
``<task>-v<version>-across-sources.md`` (and ``.csv``) has one row per detector and, for every
source, its accuracy and FP rate with the bootstrap intervals of the per-source tables; then the
worst source's accuracy and the worst FP rate, each naming its source, and the targets a detector
must meet on every source (:data:`pixbench.results.SOURCE_TARGETS`) marked pass or fail. Rows are
sorted by worst accuracy, then worst FP rate, then name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixbench.images import write_bytes_atomic
from pixbench.leaderboard.group import Table
from pixbench.leaderboard.uncertainty import CONFIDENCE, interval, load_samples
from pixbench.metrics import Interval
from pixbench.results import SOURCE_TARGETS, Result, number
from pixbench.tasks import get_task

#: The two numbers of each source, as (metric key, header): accuracy (higher is better), FP rate (lower).
KEYS = (("accuracy", "acc"), ("fpr", "FP"))


@dataclass
class Cell:
    """One detector on one source: each key's value and interval, and the result they come from."""

    result: Result
    values: dict[str, float | None]
    intervals: dict[str, Interval] = field(default_factory=dict)


@dataclass
class SourcesRow:
    """One detector across the sources: its cell per source (absent where it was not scored)."""

    model: str
    cells: dict[str, Cell]

    def worst(self, key: str) -> tuple[float | None, str]:
        """The lowest accuracy or the highest FP rate over the sources, and the source it is on."""
        sign = 1 if key == "accuracy" else -1
        # on a tie, the source that comes first on the page (Kodak first) is named
        scored = [
            (sign * c.values[key], i, s) for i, (s, c) in enumerate(self.cells.items()) if c.values[key] is not None
        ]
        if not scored:
            return None, ""
        value, _, source = min(scored)
        return sign * value, source

    def verdict(self, sources: list[str]) -> str:
        """``pass``/``fail`` against the row's every-source targets, ``incomplete`` when a source is missing."""
        target = SOURCE_TARGETS.get(self.model)
        if target is None:
            return ""
        if any(s not in self.cells for s in sources):
            return "incomplete"
        accuracy, fpr = self.worst("accuracy")[0], self.worst("fpr")[0]
        ok = accuracy is not None and fpr is not None and accuracy >= target.accuracy and fpr <= target.fpr
        return "pass" if ok else "fail"


@dataclass
class SourcesPage:
    """The benchmark (task, recipe, version), its sources in column order, and its rows."""

    task: str
    recipe: str
    version: int
    sources: list[str]
    tables: dict[str, Table]
    rows: list[SourcesRow]

    @property
    def stem(self) -> str:
        name = self.recipe if self.recipe.startswith(self.task) else f"{self.task}-{self.recipe}"
        return f"{name}-v{self.version}-across-sources"


def sources_pages(tables: list[Table]) -> list[SourcesPage]:
    """A page per benchmark of a classifying task with tables on two sources or more."""
    benchmarks: dict[tuple[str, str, int], dict[str, Table]] = {}
    for table in tables:
        if get_task(table.task).classifies:
            # a benchmark whose results were separated into several tables per source keeps the first stem
            benchmarks.setdefault((table.task, table.recipe, table.version), {}).setdefault(table.source, table)
    pages = []
    for (task, recipe, version), by_source in sorted(benchmarks.items()):
        if len(by_source) < 2:
            continue
        sources = sorted(by_source, key=_source_order)
        rows: dict[str, SourcesRow] = {}
        for source in sources:
            table = by_source[source]
            loaded, _ = load_samples(table.results)
            for result, samples in zip(table.results, loaded, strict=True):
                cell = Cell(result, {k: number(result.model_metrics.get(k)) for k, _ in KEYS})
                if samples is not None:
                    cell.intervals = {k: ci for k, _ in KEYS if (ci := interval(samples, k)) is not None}
                rows.setdefault(result.model.name, SourcesRow(result.model.name, {})).cells.setdefault(source, cell)
        ranked = sorted(rows.values(), key=_rank)
        pages.append(SourcesPage(task, recipe, version, sources, by_source, ranked))
    return pages


def _source_order(source: str) -> tuple[int, str]:
    """Kodak first (where the benchmark was tuned), then the other sources by name."""
    return (0 if source == "kodak" else 1, source)


def _rank(row: SourcesRow) -> tuple:
    accuracy, fpr = row.worst("accuracy")[0], row.worst("fpr")[0]
    return (-len(row.cells), -(accuracy if accuracy is not None else -1.0), fpr if fpr is not None else 2.0, row.model)


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def _cell_text(cell: Cell | None, key: str) -> str:
    if cell is None:
        return "–"
    ci = cell.intervals.get(key)
    return _pct(cell.values[key]) + (f" [{100 * ci.low:.1f}, {100 * ci.high:.1f}]" if ci is not None else "")


def _short(source: str) -> str:
    """A source as a column header: ``folder:set14`` -> ``set14``."""
    return source.split(":", 1)[-1]


def sources_markdown(page: SourcesPage) -> str:
    """The page: what it shows, the grid (a row per detector), then the notes."""
    links = ", ".join(f"[{_short(s)}](<{page.tables[s].stem}.md>)" for s in page.sources)
    with_target = any(row.verdict(page.sources) for row in page.rows)
    headers = ["#", "model"] + [f"{_short(s)} {h}" for s in page.sources for _, h in KEYS] + ["worst acc", "worst FP"]
    headers += ["target (every source)"] if with_target else []
    lines = [
        f"# {page.recipe} v{page.version} across test sources ({page.task})",
        "",
        f"Every detector on every test source of this benchmark: accuracy and FP rate on each source, from the "
        f"per-source tables ({links}). The last columns are the lowest accuracy and the highest FP rate over "
        "the sources, each with its source: a detector that holds on one collection of photos and not on another "
        "shows it there. Rows are sorted by the worst accuracy (higher is better).",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for rank, row in enumerate(page.rows, start=1):
        cells = [str(rank), row.model.replace("|", "\\|")]
        cells += [_cell_text(row.cells.get(s), k) for s in page.sources for k, _ in KEYS]
        for key, _ in KEYS:
            value, source = row.worst(key)
            cells.append(f"{_pct(value)} ({_short(source)})" if value is not None else "–")
        cells += [row.verdict(page.sources)] if with_target else []
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Notes:", ""]
    lines.append(
        f"- [a, b]: {CONFIDENCE:.0%} bootstrap interval, resampling source photos, from the per-sample files "
        "(as in the per-source tables); see docs/statistics.md. –: not scored on that source."
    )
    if with_target:
        shown = sorted({row.model for row in page.rows if row.model in SOURCE_TARGETS})
        goals = "; ".join(
            f"{m}: accuracy >= {SOURCE_TARGETS[m].accuracy:.0%}, FP rate <= {SOURCE_TARGETS[m].fpr:.0%}" for m in shown
        )
        lines.append(
            f"- target: on every source, {goals}. *incomplete*: not scored on every source of this page; "
            "empty: no every-source target for that row."
        )
    return "\n".join(lines) + "\n"


def sources_csv(page: SourcesPage) -> str:
    """The page as CSV: a row per detector; per source its values and intervals; the worst values and sources."""
    from pixbench.leaderboard.render import rows_csv

    out = []
    for rank, row in enumerate(page.rows, start=1):
        raw: dict[str, Any] = {"rank": rank, "model": row.model}
        for source in page.sources:
            cell = row.cells.get(source)
            for key, _ in KEYS:
                ci = cell.intervals.get(key) if cell is not None else None
                raw[f"{_short(source)}_{key}"] = cell.values[key] if cell is not None else None
                raw[f"{_short(source)}_{key}_ci_low"] = None if ci is None else round(ci.low, 6)
                raw[f"{_short(source)}_{key}_ci_high"] = None if ci is None else round(ci.high, 6)
        for key, _ in KEYS:
            value, source = row.worst(key)
            raw[f"worst_{key}"], raw[f"worst_{key}_source"] = value, _short(source) or None
        raw["target"] = row.verdict(page.sources) or None
        out.append(raw)
    return rows_csv(out)


def write_sources_pages(tables: list[Table], out: Path) -> list[SourcesPage]:
    """Write ``<stem>.md`` and ``<stem>.csv`` of every page (:func:`sources_pages`) into ``out``."""
    pages = sources_pages(tables)
    for page in pages:
        write_bytes_atomic(out / f"{page.stem}.md", sources_markdown(page).encode("utf-8"))
        write_bytes_atomic(out / f"{page.stem}.csv", sources_csv(page).encode("utf-8"))
    return pages


def sources_index(pages: list[SourcesPage]) -> str:
    """The index's section linking the pages across sources (empty without pages)."""
    if not pages:
        return ""
    lines = ["", "## Across test sources", ""]
    for page in pages:
        names = ", ".join(_short(s) for s in page.sources)
        lines.append(
            f"- [{page.recipe} v{page.version} across test sources](<{page.stem}.md>) ({page.task}): every detector "
            f"on {names}, with the worst source's accuracy and FP rate ([csv](<{page.stem}.csv>))"
        )
    return "\n".join(lines) + "\n"
