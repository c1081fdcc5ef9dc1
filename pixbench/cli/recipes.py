"""`pixbench recipes`: list and validate the shipped recipes (and any recipe files given)."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import console, err_console, handle_errors, plain, say


@handle_errors
def recipes(
    files: list[Path] | None = typer.Argument(None, help="Recipe .yaml files to validate as well as the shipped ones."),
    show: str | None = typer.Option(
        None, "--show", help="Print one recipe (shipped name or path) in canonical form and exit."
    ),
) -> None:
    """List the shipped recipes, validate them, and exit 1 if any recipe is invalid."""
    from rich.table import Table

    from pixbench.errors import RecipeError
    from pixbench.recipes import load_recipe_file, resolve_recipe, shipped_recipes

    if show:
        recipe, _ = resolve_recipe(show)
        typer.echo(recipe.canonical_yaml(), nl=False)
        return
    table = Table("recipe", "version", "task", "default source", "sha256")
    errors = []
    shipped = list(shipped_recipes().values())
    candidates = shipped + list(files or [])
    for path in candidates:
        try:
            recipe = load_recipe_file(path)
        except RecipeError as exc:
            errors.append(str(exc))
            continue
        if path in shipped and path.stem != recipe.name:  # shipped recipes are found by file name
            errors.append(f"{path}: name {recipe.name!r} differs from the file name {path.stem!r}")
            continue
        table.add_row(*map(plain, (recipe.name, recipe.version, recipe.task, recipe.source, recipe.sha256()[:12])))
    console.print(table)
    for message in errors:
        say("[bold red]invalid:[/bold red] {}", message, to=err_console)
    if errors:
        raise typer.Exit(code=1)
    say("{} recipe(s) valid.", len(candidates))
