"""Recipe schema: shipped recipes validate, errors are one precise line, hashes are pinned."""

import copy

import pytest
import yaml
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.errors import RecipeError
from pixbench.recipes import load_recipe_file, parse_recipe, resolve_recipe, shipped_recipes
from tests.conftest import REPO_ROOT

# Canonical-form SHA-256 of every shipped recipe at its current version, recorded when that
# version was published (Recipe.sha256()). A change here means a published recipe changed: make
# a new version instead (VERSIONS).
PINNED = {
    "blockcnn-triplets": "0021b9cb7f20",
    "depixelate-lanczos": "57a0fde282d3",
    "depixelate-nearest": "cd9e3424b58e",
    "detect": "a41b57714e85",
    "detect-hard": "9dd19958deeb",
    # version 1 was a0cf2bc6be12; version 2 added the texture and enlarged negatives
    "detect-train": "9d87cbc0a150",
    "inpaint-2x75": "bc60439234d3",
    "jpeg": "f80ddfe2566c",
    "jpeg-gray": "053dc0a32f38",
    "localize": "6b793fee1b0f",
    "sr-bicubic": "b39093eabe77",
}

#: Shipped recipes past version 1 (every other one is at version 1).
VERSIONS = {"detect-train": 2}

BASE = {
    "name": "tiny",
    "version": 1,
    "task": "depixelate",
    "seed": 1,
    "source": "embedded",
    "crop": {"size": 32, "per_image": 2, "align": 4},
    "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
    "degradations": [{"op": "pixelate", "factors": [2, 4], "down_kernels": ["box"], "up_kernels": ["nearest"]}],
}


def _with(path: str, value):
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


def test_shipped_recipes_are_valid_versioned_and_pinned():
    shipped = shipped_recipes()
    assert sorted(shipped) == sorted(PINNED)
    for name, path in shipped.items():
        recipe = load_recipe_file(path)
        assert recipe.name == name and recipe.version == VERSIONS.get(name, 1)
        assert recipe.sha256()[:12] == PINNED[name], name


def test_earlier_versions_in_history_keep_their_published_hashes():
    # recipes/history/ keeps versions that published rows were trained on (recipes/history/README.md)
    kept = {p.name: load_recipe_file(p) for p in sorted((REPO_ROOT / "recipes" / "history").glob("*.yaml"))}
    assert {name: (r.name, r.version, r.sha256()[:12]) for name, r in kept.items()} == {
        "detect-train-v1.yaml": ("detect-train", 1, "a0cf2bc6be12"),  # PINNED before version 2
    }


def test_shipped_recipes_are_the_top_level_recipes_folder():
    # one copy, in recipes/ where users read and copy them; setup.py puts it in the wheel (tests/test_wheel.py)
    shipped = shipped_recipes()
    assert shipped == {p.stem: p for p in sorted((REPO_ROOT / "recipes").glob("*.yaml"))}
    for path in shipped.values():
        assert path.resolve().parent == (REPO_ROOT / "recipes").resolve()
    assert not list((REPO_ROOT / "pixbench").rglob("*.yaml"))  # no second copy inside the package


def test_resolve_by_name_and_path(tmp_path):
    recipe, path = resolve_recipe("detect")
    assert recipe.task == "detect" and path.name == "detect.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text(yaml.safe_dump(BASE))
    assert resolve_recipe(str(own))[0].name == "tiny"
    with pytest.raises(RecipeError, match="unknown recipe 'detct'; did you mean 'detect'"):
        resolve_recipe("detct")
    with pytest.raises(RecipeError, match="nope.yaml: no such recipe file"):
        resolve_recipe(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize(
    "path,value,match",
    [
        ("crop.stride", 3, r"<r>: crop.stride: unknown key; allowed keys: size, per_image, align"),
        ("degradations.0.blur", 3, r"degradations\[0\].blur: unknown key; allowed keys: op, factors, down_kernels"),
        ("version", KeyError, r"<r>: version: required field is missing"),
        (
            "degradations.0.up_kernels",
            ["nearest", "cubic"],
            r"degradations\[0\].up_kernels\[1\]: Input should be 'nearest', 'box', 'bilinear', 'bicubic' or 'lanczos' \(got 'cubic'\)",
        ),
        (
            "task",
            "denoise",
            r"task: Input should be 'detect', 'depixelate', 'jpeg', 'blockcnn', 'inpaint', 'jpeg-gray', 'sr-bicubic' or 'localize' \(got 'denoise'\)",
        ),
        ("splits.test", 0.5, r"splits: train \+ val \+ test must be 1, got 1.25"),
        ("degradations.0.factors", [3], r"depixelate factors \[3\] must divide crop.size \(32\)"),
        ("crop.size", 8, r"crop.size: Input should be greater than or equal to 16 \(got 8\)"),
    ],
)
def test_errors_are_one_line_with_path_value_and_allowed(path, value, match):
    with pytest.raises(RecipeError, match=match) as info:
        parse_recipe(_with(path, value), origin="<r>")
    assert "\n" not in str(info.value)


def test_task_and_ops_must_fit():
    data = _with("task", "jpeg")
    with pytest.raises(RecipeError, match=r"task 'jpeg' takes degradations \['jpeg'\], got \['pixelate'\]"):
        parse_recipe(data)
    data = _with("task", "detect")
    with pytest.raises(RecipeError, match="negatives is required for task 'detect'"):
        parse_recipe(data)


def test_crop_is_required_exactly_where_the_task_crops():
    with pytest.raises(RecipeError, match=r"<r>: \(top level\): crop: required for task 'depixelate' \(whole images"):
        parse_recipe(_with("crop", KeyError), origin="<r>")
    whole = resolve_recipe("jpeg-gray")[0].canonical()
    assert "crop" not in whole  # a whole-image recipe has no crop, so its canonical form has no crop key
    with pytest.raises(RecipeError, match=r"crop: task 'jpeg-gray' takes whole images, leave crop out"):
        parse_recipe({**whole, "crop": BASE["crop"]})
    whole["degradations"][0]["qualities"] = [10, 20, 10]
    with pytest.raises(RecipeError, match=r"qualities must differ \(one sample per quality\), got \[10, 20, 10\]"):
        parse_recipe(whole)


def test_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: [1\n")
    with pytest.raises(RecipeError, match=r"bad.yaml: not valid YAML at line 3"):
        load_recipe_file(bad)


def test_canonical_form_is_stable_under_reordering_and_defaults():
    a = parse_recipe(BASE)
    reordered = dict(reversed(list(copy.deepcopy(BASE).items())))
    reordered["crop"] = {"per_image": 2, "size": 32, "align": 4}
    b = parse_recipe(reordered)
    assert a.canonical_yaml() == b.canonical_yaml() and a.sha256() == b.sha256()
    assert parse_recipe(yaml.safe_load(a.canonical_yaml())).sha256() == a.sha256()
    assert parse_recipe(_with("seed", 2)).sha256() != a.sha256()


def test_cli_recipes_lists_and_validates(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0, result.output
    for name in PINNED:
        assert name in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with("crop.stride", 3)))
    result = runner.invoke(app, ["recipes", str(bad)])
    assert result.exit_code == 1
    assert "crop.stride: unknown key" in result.output
    shown = runner.invoke(app, ["recipes", "--show", "jpeg"])
    assert shown.exit_code == 0 and "subsampling: '4:2:0'" in shown.output
