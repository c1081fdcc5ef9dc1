"""Every registered task, checked the same way: its module, its fields, its hooks, its docs.

A new task in ``pixbench/tasks/`` gets all of these checks without any extra work. The last
test reads the package source with ``ast``: no module outside ``pixbench/tasks/`` may compare
a task name with a string literal (the stages ask the task instead).
"""

from __future__ import annotations

import ast
import copy
import importlib
import math

import numpy as np
import pytest

from pixbench import metrics
from pixbench.degradations import DEGRADATIONS
from pixbench.errors import RecipeError
from pixbench.recipes import Recipe, load_recipe_file, parse_recipe, shipped_recipes
from pixbench.tasks import (
    RESTORATION_TASKS,
    TASK_NAMES,
    TASKS,
    Task,
    TaskSample,
    UnknownTaskError,
    can_score,
    get_task,
    primary_metric,
    task_registry,
)
from tests.conftest import REPO_ROOT

#: The image files a sample may have: the array fields of TaskSample, each a ``<kind>/`` folder.
IMAGE_KINDS = ("input", "target", "lowres", "mask")
#: How a table prints a column (pixbench.leaderboard formats these).
FORMATS = ("pct", "f2", "f4")
#: A noise photo large enough for every shipped recipe (detect: 17 blocks of 16 = 272 pixels).
PHOTO = np.random.default_rng(0).integers(0, 256, (300, 320, 3), dtype=np.uint8)


def _recipe_of(task: Task) -> Recipe:
    """The first shipped recipe of ``task`` (by name)."""
    recipes = [load_recipe_file(p) for _, p in sorted(shipped_recipes().items())]
    return next(r for r in recipes if r.task == task.name)


def _data_of(task: Task) -> dict:
    return copy.deepcopy(_recipe_of(task).canonical())


@pytest.fixture(params=list(TASKS.values()), ids=list(TASKS))
def task(request) -> Task:
    return request.param


def test_registry_order_and_public_views():
    assert TASK_NAMES == (
        "detect",
        "depixelate",
        "jpeg",
        "blockcnn",
        "inpaint",
        "jpeg-gray",
        "sr-bicubic",
        "localize",
    )
    assert RESTORATION_TASKS == ("depixelate", "jpeg", "blockcnn", "inpaint", "jpeg-gray", "sr-bicubic")
    assert primary_metric("inpaint") == "psnr_hole" and primary_metric("detect") == "accuracy"
    assert can_score("blockcnn", "jpeg") and not can_score("jpeg", "blockcnn") and can_score("jpeg", "jpeg")


def test_duplicate_registration_is_an_error():
    one = TASKS["jpeg"]
    assert task_registry(one, TASKS["inpaint"]) == {"jpeg": one, "inpaint": TASKS["inpaint"]}
    with pytest.raises(ValueError, match="task 'jpeg' is registered twice"):
        task_registry(one, TASKS["detect"], one)


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(UnknownTaskError, match=r"x.json: unknown task 'denoise'; expected one of detect, depixelate"):
        get_task("denoise", where="x.json")
    with pytest.raises(UnknownTaskError, match="unknown task None"):
        get_task(None)


def test_every_task_has_its_module_docs_and_recipe(task):
    module_name = task.name.replace("-", "_")  # a task name may have hyphens; its module has underscores
    module = importlib.import_module(f"pixbench.tasks.{module_name}")
    assert module.TASK is task
    assert (REPO_ROOT / "pixbench" / "tasks" / f"{module_name}.py").is_file()
    assert (REPO_ROOT / "docs" / "tasks" / f"{task.name}.md").is_file()
    assert _recipe_of(task).task == task.name
    # the sample maker is the task's own: the base class has none
    assert type(task).make_sample is not Task.make_sample


def test_fields_are_consistent(task):
    keys = [c.key for c in task.columns]
    assert task.primary in keys
    assert set(task.gains) <= set(keys)
    assert len({c.name for c in task.columns}) == len(task.columns)
    assert all(c.fmt in FORMATS for c in task.columns)
    assert task.ops and all(op in DEGRADATIONS for op in task.ops)
    assert task.files[0] == "input" and set(task.files) <= set(IMAGE_KINDS)
    assert len(set(task.files)) == len(task.files)
    assert task.restores == ("target" in task.files)  # a restorer is scored against its clean target
    assert set(task.breakdown) <= set(task.metadata)
    assert set(task.table_breakdown) <= set(task.breakdown) | set(task.region_breakdown)
    assert not set(task.region_breakdown) & set(task.metadata)  # a region's property is not a sample's column
    assert task.name not in task.scores_on and set(task.scores_on) <= set(TASKS)
    assert set(task.sections) <= set(Recipe.model_fields) - {"task", "degradations", "crop", "splits"}
    assert task.inputs
    if task.blockwise:
        assert task.restores
    if not task.restores:
        assert not task.gains  # a detector's input has no score to gain over


def test_every_shipped_recipe_fits_its_task():
    for path in shipped_recipes().values():
        recipe = load_recipe_file(path)
        assert tuple(d.op for d in recipe.degradations) == get_task(recipe.task).ops


def test_sections_are_required_by_their_task_and_refused_by_the_others():
    owners = {s: t for t in TASKS.values() for s in t.sections}
    assert owners == {"negatives": TASKS["detect"], "triplets": TASKS["blockcnn"]}
    for section, owner in owners.items():
        value = _data_of(owner)[section]
        missing = _data_of(owner)
        del missing[section]
        message = f"{section} is required for task '{owner.name}' and not allowed for other tasks"
        with pytest.raises(RecipeError, match=message):
            parse_recipe(missing)
        for other in TASKS.values():
            if section not in other.sections:
                data = _data_of(other)
                data[section] = value
                with pytest.raises(RecipeError, match=message):
                    parse_recipe(data)


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("detect", {"crop": {"size": 256, "per_image": 3, "align": 1}}, r"crop.per_image must be even for 'detect'"),
        ("jpeg", {"crop": {"size": 72, "per_image": 2, "align": 8}}, r"jpeg/blockcnn crops need crop.size a multiple"),
        ("blockcnn", {"crop": {"size": 128, "per_image": 2, "align": 4}}, r"jpeg/blockcnn crops need crop.size"),
        ("inpaint", {"crop": {"size": 140, "per_image": 2, "align": 1}}, r"2 holes of 75px do not fit side by side"),
        ("depixelate", {"crop": {"size": 256, "per_image": 2, "align": 4}}, r"depixelate factors \[8\] must divide"),
    ],
)
def test_each_task_checks_its_own_recipe_rules(name, change, message):
    data = {**_data_of(TASKS[name]), **change}
    with pytest.raises(RecipeError, match=message):
        parse_recipe(data)


def test_negative_names_must_differ():
    data = _data_of(TASKS["detect"])
    data["negatives"] = [{"kind": "clean"}, {"kind": "smooth", "name": "clean"}]
    with pytest.raises(RecipeError, match=r"negatives need distinct names .* got \['clean', 'clean'\]"):
        parse_recipe(data)


def test_samples_have_exactly_the_task_files(task):
    recipe = _recipe_of(task)
    assert (recipe.crop is None) == task.whole_images
    assert task.min_side(recipe) <= min(PHOTO.shape[:2])
    for index in (0, 1):  # detect: a positive and a negative
        sample = task.make_sample(PHOTO, recipe, np.random.default_rng(7), index)
        again = task.make_sample(PHOTO, recipe, np.random.default_rng(7), index)
        assert isinstance(sample, TaskSample)
        h, w = (sample.params["crop_h"], sample.params["crop_w"]) if task.whole_images else (recipe.crop.size,) * 2
        if task.maps:  # the image may be shrunk after it was made, and its mask with it
            h, w = sample.mask.shape
            assert h <= sample.params["crop_h"] and w <= sample.params["crop_w"]
        assert sample.input.shape == (h, w, 3) and sample.input.dtype == np.uint8
        for kind in IMAGE_KINDS:
            assert (getattr(sample, kind) is not None) == (kind in task.files), kind
            if kind in task.files:
                assert np.array_equal(getattr(sample, kind), getattr(again, kind))  # a pure function of the seed
        assert sample.params == again.params
        assert {"crop_x", "crop_y", "crop_w", "crop_h"} <= set(sample.params)
        assert (sample.label is None) == (task.restores or task.maps)
        assert (sample.triplets is not None) == task.blockwise
    if task.takes_lowres:
        factor = sample.params["factor"]
        assert sample.lowres.shape == (h // factor, w // factor, 3)


@pytest.mark.parametrize("task", [TASKS[n] for n in RESTORATION_TASKS], ids=list(RESTORATION_TASKS))
def test_image_metrics_give_every_column_of_the_table(task):
    """Every restoration task (a detector is scored on labels, not images)."""
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    test = np.clip(ref.astype(int) + rng.integers(-9, 10, ref.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((48, 40), bool)
    mask[8:24, 8:24] = True
    scores = task.image_metrics(ref, test, mask if task.takes_mask else None)
    image_keys = {c.key for c in task.columns if not c.key.startswith("triplets.")}
    assert image_keys <= set(scores) and task.primary in scores
    if task.whole_images:
        return  # the paper protocols score their own planes: tests/test_paper_protocols.py checks them
    # the same numbers as the metric functions called one by one (uint8: bit-identical)
    assert scores["psnr"] == metrics.psnr(ref, test, data_range=255)
    assert scores["ssim"] == metrics.ssim(ref, test, data_range=255)
    if "psnr_b" in scores:
        assert scores["psnr_b"] == metrics.psnr_b(ref, test, data_range=255)


def test_inpaint_scores_the_holes_apart():
    ref = np.full((32, 32, 3), 100, np.uint8)
    test = ref.copy()
    mask = np.zeros((32, 32), bool)
    mask[:16, :16] = True  # a quarter of the image
    test[mask] = 110
    scores = TASKS["inpaint"].image_metrics(ref, test, mask)
    # error 10 in every hole pixel: MSE 100, PSNR 10 log10(255^2 / 100) = 28.1308 dB; a quarter of it overall
    assert scores["l1_hole"] == 10.0 and scores["mse_hole"] == 100.0
    assert scores["psnr_hole"] == pytest.approx(10 * math.log10(255**2 / 100))
    assert scores["mse_full"] == 25.0 and scores["psnr_full"] == pytest.approx(10 * math.log10(255**2 / 25))
    assert "psnr_hole" not in TASKS["inpaint"].image_metrics(ref, test, None)


def test_block_metrics_pool_the_squared_error():
    targets = np.zeros((3, 8, 8, 3), np.uint8)
    outputs = targets.copy()
    outputs[0] = 9  # one block off by 9, two exact: pooled MSE 81 / 3 = 27
    scores = TASKS["blockcnn"].block_metrics(targets, outputs)
    assert scores == {
        "psnr": pytest.approx(10 * math.log10(255**2 / 27))
    }  # 33.8174 dB, finite though 2 blocks are exact


def test_only_the_tasks_with_a_mask_write_a_card_paragraph():
    notes = {name: t.card_notes(_recipe_of(t)) for name, t in TASKS.items()}
    assert notes["inpaint"][0].startswith("Holes are filled with the value 0 in every channel")
    assert notes["localize"][0].startswith("`mask/` is 255 on mosaicked pixels")
    assert all(not n for name, n in notes.items() if name not in ("inpaint", "localize"))


def _compares_task_name(node: ast.AST) -> bool:
    """``task == "jpeg"``, ``spec.task in ("a", "b")`` and the like (the rule of tools/layout.py)."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return False
    if not isinstance(node.ops[0], (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
        return False

    def literal(x: ast.AST) -> bool:
        if isinstance(x, ast.Constant):
            return isinstance(x.value, str)
        return (
            isinstance(x, (ast.Tuple, ast.List, ast.Set))
            and bool(x.elts)
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in x.elts)
        )

    def named(x: ast.AST) -> bool:
        return not isinstance(x, ast.Constant) and "task" in ast.unparse(x).lower()

    left, right = node.left, node.comparators[0]
    return (named(left) and literal(right)) or (named(right) and literal(left))


def test_the_rule_finds_task_name_comparisons():
    found = [_compares_task_name(ast.parse(code, mode="eval").body) for code in (
        'task == "jpeg"', 'spec.task != "detect"', 'recipe.task in ("jpeg", "blockcnn")', '"inpaint" == doc["task"]',
        'task.restores == True', 'name == "jpeg"', 'task == other', 'spec.task_info.name in names',
    )]  # fmt: skip
    assert found == [True, True, True, True, False, False, False, False]


def test_no_stage_compares_a_task_name_with_a_string():
    package = REPO_ROOT / "pixbench"
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "tasks":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if _compares_task_name(node):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert found == []
