"""`pixbench compare`: is B better than A? Two result files of one benchmark, paired sample by sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pixbench.cli._common import console, handle_errors, plain, say

if TYPE_CHECKING:
    from pixbench.leaderboard import Comparison

AArg = Annotated[Path, typer.Argument(help="Result JSON of model A (the reference).", show_default=False)]
BArg = Annotated[Path, typer.Argument(help="Result JSON of model B (the candidate).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON object instead of tables.")]
TopOpt = Annotated[int, typer.Option("--top", min=0, help="How many source images where B loses most to list.")]


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@handle_errors
def compare(a: AArg, b: BArg, as_json: JsonOpt = False, top: TopOpt = 5) -> None:
    """Compare B with A on the same samples: mean difference B - A, 95% CI, p-value, wins/ties/losses.

    Both results must come from one benchmark: same task, dataset fingerprint, split and
    subset (--limit/--factor). Each metric of the task's table that the per-sample files
    hold is compared over source images (crops are averaged within each photo first):
    a bootstrap interval and a sign-flip permutation test (docs/statistics.md).
    """
    from pixbench.leaderboard import compare_results
    from pixbench.results import read_result

    result = compare_results(read_result(a), read_result(b))
    if as_json:
        typer.echo(json.dumps(result.as_dict(top=top), indent=2, allow_nan=False, default=str))
        return
    say("A = {} ({})", result.a.model.name, a)
    say("B = {} ({})", result.b.model.name, b)
    say(
        "{}, {} samples, dataset {}…, split {}{}",
        result.a.task,
        result.n_samples,
        result.a.fingerprint[:19],
        result.a.split,
        ", " + result.a.subset if result.a.subset else "",
    )
    _print_table(result)
    say(
        "↑/↓: higher/lower is better; * ranks the leaderboard; W/T/L: source images where B wins, ties, "
        "loses; p: exact enumeration of sign flips, or (†) seeded Monte Carlo."
    )
    if top > 0:
        _print_worst(result, top)


def _print_table(result: Comparison) -> None:
    """One row per metric: both means, B - A with its interval and p-value, and wins, ties and losses."""
    from rich.table import Table

    table = Table(title="B - A over source images (95% bootstrap CI, sign-flip permutation p)")
    for header in ("metric", "mean A", "mean B", "B - A", "95% CI", "p", "B W/T/L"):
        table.add_column(header, justify="left" if header == "metric" else "right")
    for m in result.metrics:
        p = m.test.p_value
        name = f"{m.name} {'↓' if m.lower_is_better else '↑'}" + (" *" if m.key == result.primary else "")
        table.add_row(
            plain(name),
            _num(m.mean_a),
            _num(m.mean_b),
            _num(m.test.difference, 4),
            plain(f"[{_num(m.test.low)}, {_num(m.test.high)}]"),
            "–" if p is None else f"{p:.4f}" + ("" if m.test.exact else "†"),
            f"{m.b_wins}/{m.test.ties}/{m.b_losses}",
        )
    console.print(table)


def _print_worst(result: Comparison, top: int) -> None:
    """The source images where B loses most to A on the primary metric."""
    for m in result.metrics:
        if m.key != result.primary:
            continue
        worst = m.worst_for_b(top)
        if not worst:
            say("B loses to A on no source image by {}.", m.name)
            continue
        say("Source images where B loses most by {} (B - A, mean over the image's crops):", m.name)
        for image, difference in worst:
            say("  {}  {:+.4f}", image, difference)
