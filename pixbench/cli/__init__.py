"""The ``pixbench`` command line: thin typer commands over the library.

Each command lives in its own module of this package and is registered here,
explicitly, in the order ``--help`` shows them. Commands import heavy libraries
(torch, onnxruntime) inside their bodies so that ``pixbench --help`` stays fast.
"""

from __future__ import annotations

import typer

from pixbench import __version__
from pixbench.cli import baseline, build, combine, compare, evaluate, export, leaderboard, recipes, train, weights

app = typer.Typer(
    name="pixbench",
    help=(
        "Reproducible image-degradation datasets and benchmarks.\n\n"
        "Typical flow: build-dataset -> train -> export -> evaluate -> leaderboard."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pixbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Reproducible image-degradation datasets and benchmarks."""


app.command("build-dataset")(build.build_dataset)
app.command("recipes")(recipes.recipes)
app.command("train")(train.train)
app.command("export")(export.export)
app.command("evaluate")(evaluate.evaluate)
app.command("baseline")(baseline.baseline)
app.command("combine")(combine.combine)
app.command("leaderboard")(leaderboard.leaderboard)
app.command("compare")(compare.compare)
app.command("fetch-weights")(weights.fetch_weights)


def main() -> None:
    """Console-script entry point."""
    app()
