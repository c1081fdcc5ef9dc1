"""The wheel carries the shipped recipes, and an installed wheel finds them by name.

The recipes live once, in ``recipes/`` at the top of the repository; ``setup.py`` copies them into the
wheel as ``pixbench/recipes/shipped/``. This builds a wheel from a copy of the checkout (offline: no
build isolation, no index), installs it with ``--no-deps`` into a temporary folder, and resolves
``jpeg`` by name there, in a fresh interpreter that imports that copy of pixbench.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from pixbench.recipes import load_recipe_file
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

#: What a wheel build reads from the checkout.
SOURCES = ("pixbench", "recipes", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


def _build_tools_missing() -> str | None:
    """Why a wheel cannot be built offline here, or None."""
    if importlib.util.find_spec("pip") is None:
        return "pip is not installed"
    try:
        setuptools = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return "setuptools is not installed (the build backend; pip wheel --no-build-isolation needs it)"
    if int(setuptools.split(".")[0]) < 77:
        return f"setuptools {setuptools} is older than the 77 that pyproject.toml requires"
    return None


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    missing = _build_tools_missing()
    if missing:
        pytest.skip(f"cannot build a wheel offline: {missing}")
    src = tmp_path_factory.mktemp("checkout")
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    start = time.perf_counter()
    _pip("wheel", ".", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), cwd=src)
    print(f"wheel built in {time.perf_counter() - start:.1f} s")
    (found,) = dist.glob("pixbench-*.whl")
    return found


def test_the_wheel_carries_every_shipped_recipe_unchanged(wheel):
    shipped = sorted((REPO_ROOT / "recipes").glob("*.yaml"))
    assert len(shipped) == 11  # the eleven recipes of tests/test_recipes.py's PINNED
    with zipfile.ZipFile(wheel) as zf:
        packed = {n.rsplit("/", 1)[1]: zf.read(n) for n in zf.namelist() if n.startswith("pixbench/recipes/shipped/")}
    assert packed == {p.name: p.read_bytes() for p in shipped}


def test_an_installed_wheel_resolves_recipes_by_name(wheel, tmp_path):
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel), cwd=tmp_path)
    probe = (
        "import json, pixbench, pixbench.recipes as r\n"
        "recipe, path = r.resolve_recipe('jpeg')\n"
        "print(json.dumps({'package': pixbench.__file__, 'path': str(path), 'names': sorted(r.shipped_recipes()),"
        " 'sha256': recipe.sha256()}))\n"
    )
    # cwd is not the checkout and PYTHONPATH names only the install, so this imports the installed copy
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert Path(seen["package"]).is_relative_to(site)
    assert Path(seen["path"]) == site / "pixbench" / "recipes" / "shipped" / "jpeg.yaml"
    assert seen["names"] == sorted(p.stem for p in (REPO_ROOT / "recipes").glob("*.yaml"))
    assert seen["sha256"] == load_recipe_file(REPO_ROOT / "recipes" / "jpeg.yaml").sha256()
    shown = subprocess.run(
        [sys.executable, "-m", "pixbench", "recipes", "--show", "jpeg"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == load_recipe_file(REPO_ROOT / "recipes" / "jpeg.yaml").canonical_yaml()
