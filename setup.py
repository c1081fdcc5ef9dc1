"""Packaging step that pyproject.toml cannot state: the shipped recipes go into the wheel.

The recipes live once, in ``recipes/`` at the top of the repository, where people read, copy and
edit them. ``build_py`` copies them into the wheel as ``pixbench/recipes/shipped/``, where
:func:`pixbench.recipes.shipped_recipes_dir` finds them after ``pip install``. An editable install
(``pip install -e .``) runs from the checkout and reads ``recipes/`` itself; its strict mode links the
files through the same output mapping. Everything else is configured in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: The shipped recipes in the checkout, and where the wheel carries them.
RECIPES = Path("recipes")
PACKAGED = ("pixbench", "recipes", "shipped")


class BuildPyWithRecipes(build_py):
    """``build_py`` that also copies ``recipes/*.yaml`` to ``pixbench/recipes/shipped/``."""

    def _recipe_mapping(self) -> dict[str, str]:
        """Build path -> source path of every shipped recipe."""
        target = Path(self.build_lib, *PACKAGED)
        return {str(target / src.name): str(src) for src in sorted(RECIPES.glob("*.yaml"))}

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # the checkout's recipes/ is read directly
            return
        for target, source in self._recipe_mapping().items():
            self.mkpath(str(Path(target).parent))
            self.copy_file(source, target)

    def get_output_mapping(self) -> dict[str, str]:
        return {**super().get_output_mapping(), **self._recipe_mapping()}

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:  # built from get_output_mapping, which already lists the recipes
            return outputs
        return [*outputs, *self._recipe_mapping()]


setup(cmdclass={"build_py": BuildPyWithRecipes})
