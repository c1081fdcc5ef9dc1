"""Loading recipes: YAML files, one-line validation errors, and the shipped-recipe lookup.

Every error is one line naming the file, the field path, the bad value and what is
allowed. The recipes that ship with pixbench are the ``*.yaml`` files of ``recipes/`` at the
top of the repository, found by file name (``detect`` -> ``recipes/detect.yaml``); an
installed wheel carries the same files as ``pixbench/recipes/shipped/`` (see :func:`shipped_recipes_dir`).

Versioning rule: a recipe ``name`` at a given ``version``, once published,
produces the same bytes forever; any change in behaviour needs a new version.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pixbench.errors import SHOWN_CHARS, RecipeError, shorten
from pixbench.recipes.schema import HolesSpec, JpegSpec, PixelateSpec, Recipe
from pixbench.registry import Registry

_TAGGED = {"pixelate": PixelateSpec, "jpeg": JpegSpec, "holes": HolesSpec}

#: Largest recipe file read (the shipped ones are under 1 KiB).
MAX_RECIPE_BYTES = 64 * 1024
#: Most YAML nodes a recipe may expand to, every use of an alias counted in full (the shipped
#: ones have under 100): a "billion laughs" alias bomb is refused before anything walks it.
MAX_RECIPE_NODES = 10_000
#: Deepest nesting of YAML collections (a recipe needs 3).
MAX_RECIPE_DEPTH = 32


class _Refused(yaml.YAMLError):
    """A YAML document outside the bounds recipes keep (depth, size, duplicate keys)."""


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses deep nesting, duplicate keys and alias expansion past a budget."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_RECIPE_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(f"nested deeper than {MAX_RECIPE_DEPTH} levels at line {line}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    key = self.construct_object(key_node)
                    if key in seen:
                        raise _Refused(f"duplicate key {shorten(key)} at line {key_node.start_mark.line + 1}")
                    seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Any, sizes: dict[int, int], open_: set[int]) -> int:
    """Nodes in ``node`` once every alias is expanded (memoised, so a bomb costs little to measure)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _Refused(f"recursive alias at line {node.start_mark.line + 1}")
    open_.add(key)
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, open_)
        if total > MAX_RECIPE_NODES:
            raise _Refused(
                f"expands to more than {MAX_RECIPE_NODES} YAML nodes (an alias bomb?) "
                f"at line {node.start_mark.line + 1}"
            )
    open_.discard(key)
    sizes[key] = total
    return total


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


def _part(part: Any) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    text = str(part)
    return text if re.fullmatch(r"[\w-]{1,64}", text) else shorten(text)


def _one_line(origin: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in _TAGGED)
    path = ".".join(_part(p) for p in loc).replace(".[", "[") or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        model = _model_at(err["loc"])
        allowed = f"; allowed keys: {', '.join(model.model_fields)}" if model else ""
        return f"{origin}: {path}: unknown key{allowed}"
    if err["type"] == "missing":
        return f"{origin}: {path}: required field is missing"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {shorten(value)})"
    return f"{origin}: {path}: {msg}{shown}{more}"


def parse_recipe(data: Any, *, origin: str = "<recipe>") -> Recipe:
    """Validate plain data (as loaded from YAML) into a :class:`Recipe`.

    Raises:
        RecipeError: One line naming ``origin``, the field path, the bad value and what is allowed.
    """
    if data is None:
        raise RecipeError(f"{origin}: the recipe is empty; expected a mapping of recipe fields (name, version, ...)")
    if not isinstance(data, dict):
        raise RecipeError(
            f"{origin}: expected a mapping of recipe fields (name, version, ...), "
            f"got a {type(data).__name__}: {shorten(data)}"
        )
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_one_line(origin, exc)) from None


def load_recipe_file(path: str | Path) -> Recipe:
    """Read and validate one recipe YAML file (UTF-8, at most :data:`MAX_RECIPE_BYTES`).

    Raises:
        RecipeError: One line naming the file: unreadable, too large, not UTF-8 text, not valid or
            out-of-bounds YAML (too deep, duplicate keys, alias expansion), or an invalid recipe.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RECIPE_BYTES + 1)  # read(), not stat(): a FIFO or /dev/zero has no size
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read recipe: {exc.strerror or exc}") from None
    if len(raw) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{path}: larger than {MAX_RECIPE_BYTES} bytes; a recipe is a short YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecipeError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save the recipe as UTF-8"
        ) from None
    nul = raw.find(b"\0")
    if nul >= 0:
        raise RecipeError(f"{path}: NUL byte at offset {nul}; a recipe is a UTF-8 YAML text file")
    return parse_recipe(_load_yaml(text, path), origin=str(path))


def _load_yaml(text: str, path: Path) -> Any:
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader subclass)
    except _Refused as exc:
        raise RecipeError(f"{path}: YAML refused: {exc}") from None
    except yaml.reader.ReaderError as exc:
        raise RecipeError(
            f"{path}: not valid YAML: unacceptable character #x{exc.character:04x} at offset {exc.position}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(exc, "problem", None) or "invalid YAML").replace("\n", " ")[:SHOWN_CHARS]
        raise RecipeError(f"{path}: not valid YAML{where}: {problem}") from None
    except RecursionError:  # belt and braces: the depth bound above should come first
        raise RecipeError(f"{path}: YAML refused: nested too deeply") from None


#: Where a wheel puts the shipped recipes, inside this package (``setup.py`` copies ``recipes/*.yaml`` there).
PACKAGED_RECIPES = Path(__file__).resolve().parent / "shipped"
#: Where a source checkout keeps them (an editable install runs from the checkout, so it reads them here).
CHECKOUT_RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def shipped_recipes_dir() -> Path:
    """The folder of recipes that ship with pixbench.

    In a source checkout (and so in an editable install) that is ``recipes/`` beside ``pyproject.toml``,
    the one copy that people read, copy and edit; in an installed wheel it is the copy the wheel carries
    as ``pixbench/recipes/shipped/``. The checkout wins where both exist, so an edit there is never
    shadowed by a stale copy.
    """
    root = CHECKOUT_RECIPES.parent
    if (root / "pyproject.toml").is_file() and CHECKOUT_RECIPES.is_dir():
        return CHECKOUT_RECIPES
    return PACKAGED_RECIPES


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
