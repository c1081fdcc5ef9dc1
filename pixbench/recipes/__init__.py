"""Recipes: the typed schema, loading with one-line errors, and the recipes that ship with pixbench.

A recipe (``docs/recipes.md``) says completely how ``pixbench build-dataset`` turns a
source of clean photos into a dataset. This stage owns the schema
(:mod:`pixbench.recipes.schema`), reading and validating files and finding shipped
recipes by name (:mod:`pixbench.recipes.loading`). The shipped ``*.yaml`` files themselves
live outside the package, in ``recipes/`` at the top of the repository; a wheel carries a
copy of them (``setup.py``).
"""

from __future__ import annotations

from pixbench.recipes.loading import (
    load_recipe_file,
    parse_recipe,
    resolve_recipe,
    shipped_recipes,
    shipped_recipes_dir,
)
from pixbench.recipes.schema import (
    Crop,
    HolesSpec,
    JpegSpec,
    Negative,
    OpSpec,
    PixelateSpec,
    Recipe,
    Splits,
    TaskName,
    Triplets,
)

__all__ = [
    "Crop",
    "HolesSpec",
    "JpegSpec",
    "Negative",
    "OpSpec",
    "PixelateSpec",
    "Recipe",
    "Splits",
    "TaskName",
    "Triplets",
    "load_recipe_file",
    "parse_recipe",
    "resolve_recipe",
    "shipped_recipes",
    "shipped_recipes_dir",
]
