"""Loading recipes: YAML files, one-line validation errors, and the shipped-recipe lookup.

Every error is one line naming the file, the field path, the bad value and what is
allowed. The recipes that ship with pixbench are the ``*.yaml`` files inside this
package, found by file name (``detect`` -> ``detect.yaml``).

Versioning rule: a recipe ``name`` at a given ``version``, once published,
produces the same bytes forever; any change in behaviour needs a new version.
"""

from __future__ import annotations

import typing
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pixbench.errors import RecipeError
from pixbench.recipes.schema import HolesSpec, JpegSpec, PixelateSpec, Recipe
from pixbench.registry import Registry

_TAGGED = {"pixelate": PixelateSpec, "jpeg": JpegSpec, "holes": HolesSpec}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema model that owns the field at ``loc`` (for listing allowed keys)."""
    model: Any = Recipe
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in _TAGGED:
            model = _TAGGED[part]
        elif isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            ann = model.model_fields[part].annotation
            inner = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
            for a in typing.get_args(ann):  # list[X] | None
                inner += [b for b in typing.get_args(a) if isinstance(b, type) and issubclass(b, BaseModel)]
            model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else (inner[0] if inner else None)
        else:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _one_line(origin: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in _TAGGED)
    path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        model = _model_at(err["loc"])
        allowed = f"; allowed keys: {', '.join(model.model_fields)}" if model else ""
        return f"{origin}: {path}: unknown key{allowed}"
    if err["type"] == "missing":
        return f"{origin}: {path}: required field is missing"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"{origin}: {path}: {msg}{shown}{more}"


def parse_recipe(data: Any, *, origin: str = "<recipe>") -> Recipe:
    """Validate plain data (as loaded from YAML) into a :class:`Recipe`.

    Raises:
        RecipeError: One line naming ``origin``, the field path, the bad value and what is allowed.
    """
    if not isinstance(data, dict):
        raise RecipeError(f"{origin}: expected a mapping of recipe fields, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_one_line(origin, exc)) from None


def load_recipe_file(path: str | Path) -> Recipe:
    """Read and validate one recipe YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read recipe: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise RecipeError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_recipe(data, origin=str(path))


def shipped_recipes_dir() -> Path:
    """The folder of recipes that ship with pixbench (this package's folder, in the installed package)."""
    return Path(str(resources.files("pixbench.recipes")))


def shipped_recipes() -> dict[str, Path]:
    """Shipped recipe name -> file, sorted by name."""
    folder = shipped_recipes_dir()
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def resolve_recipe(name_or_path: str) -> tuple[Recipe, Path]:
    """Find a recipe by shipped name (``detect``) or by path (``my/recipe.yaml``).

    Raises:
        RecipeError: No such file or shipped name (with the closest names), or an invalid recipe.
    """
    path = Path(name_or_path)
    if path.is_file():
        return load_recipe_file(path), path
    if path.suffix in (".yaml", ".yml") or "/" in name_or_path or "\\" in name_or_path:
        raise RecipeError(f"{name_or_path}: no such recipe file")
    shipped = shipped_recipes()
    registry: Registry[Path] = Registry("recipe")
    for name, p in shipped.items():
        registry.register(name, p)
    try:
        found = registry.get(name_or_path)
    except KeyError as exc:
        raise RecipeError(f"{exc}; or give a path to a recipe .yaml file") from None
    return load_recipe_file(found), found
