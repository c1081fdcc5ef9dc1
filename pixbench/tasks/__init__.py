"""The tasks: one module per task, and the registry that every stage asks.

A task (``detect``, ``depixelate``, ``jpeg``, ``blockcnn``, ``inpaint``) decides what a recipe
may degrade with, how a sample is made from a clean image, which files and metadata a dataset
sample has, what a model is scored on, which metric ranks a table, and which columns a table
shows. Each is one module here that defines ``TASK`` (a :class:`Task`, its hooks overridden
where the task differs); :data:`TASKS` lists them by explicit import, in the order docs and
tables use. ``docs/architecture.md`` ("Adding a task") lists what a new task adds.
"""

from __future__ import annotations

from typing import Any

from pixbench.tasks import blockcnn, depixelate, detect, inpaint, jpeg, jpeg_gray, localize, sr_bicubic
from pixbench.tasks.base import Column, Task, UnknownTaskError
from pixbench.tasks.sampling import TaskSample

__all__ = [
    "RESTORATION_TASKS",
    "TASKS",
    "TASK_NAMES",
    "Column",
    "Task",
    "TaskSample",
    "UnknownTaskError",
    "can_score",
    "check_recipe",
    "get_task",
    "primary_metric",
    "task_registry",
]


def task_registry(*tasks: Task) -> dict[str, Task]:
    """The tasks by name, in the order given.

    Raises:
        ValueError: Two tasks have the same name.
    """
    out: dict[str, Task] = {}
    for task in tasks:
        if task.name in out:
            raise ValueError(f"task {task.name!r} is registered twice")
        out[task.name] = task
    return out


TASKS: dict[str, Task] = task_registry(
    detect.TASK,
    depixelate.TASK,
    jpeg.TASK,
    blockcnn.TASK,
    inpaint.TASK,
    jpeg_gray.TASK,
    sr_bicubic.TASK,
    localize.TASK,
)

#: Task names, in the order docs and tables list them.
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
#: Tasks whose models output an image.
RESTORATION_TASKS: tuple[str, ...] = tuple(name for name, task in TASKS.items() if task.restores)


def get_task(name: object, *, where: str = "") -> Task:
    """The :class:`Task` called ``name``, or a one-line error listing the known tasks.

    Args:
        name: The task name as read from a file or an option.
        where: What to prefix the message with (a file name), if anything.
    """
    task = TASKS.get(name) if isinstance(name, str) else None
    if task is None:
        prefix = f"{where}: " if where else ""
        raise UnknownTaskError(f"{prefix}unknown task {name!r}; expected one of {', '.join(TASK_NAMES)}")
    return task


def primary_metric(task: str) -> str:
    """The metric key that ranks a table of ``task`` (higher is better)."""
    return get_task(task).primary


def can_score(model_task: str, dataset_task: str) -> bool:
    """Whether a model declared for ``model_task`` may be scored on a ``dataset_task`` dataset."""
    return model_task == dataset_task or dataset_task in get_task(model_task).scores_on


def check_recipe(recipe: Any) -> None:
    """Raise ``ValueError`` where a recipe does not fit its task; the recipe schema calls this.

    First the rules every task shares: the recipe's ops are the task's :attr:`Task.ops`, and
    an optional section (``negatives``, ``triplets``) is given exactly when the task requires
    it, and ``crop`` is given exactly when the task does not take whole images
    (:attr:`Task.whole_images`). Then the task's own rules (:meth:`Task.check_recipe`).

    Args:
        recipe: A recipe (read duck-typed: ``task``, ``degradations``, ``crop`` and the sections).
    """
    task = get_task(recipe.task)
    if (recipe.crop is None) != task.whole_images:
        wholes = " and ".join(repr(t.name) for t in TASKS.values() if t.whole_images)
        raise ValueError(
            f"crop: task {recipe.task!r} takes whole images, leave crop out"
            if task.whole_images
            else f"crop: required for task {recipe.task!r} (whole images, without a crop, are for {wholes} only)"
        )
    ops = tuple(d.op for d in recipe.degradations)
    if ops != task.ops:
        raise ValueError(f"task {recipe.task!r} takes degradations {list(task.ops)}, got {list(ops)}")
    for section in dict.fromkeys(s for t in TASKS.values() for s in t.sections):
        if (section in task.sections) != (getattr(recipe, section) is not None):
            owners = " or ".join(repr(t.name) for t in TASKS.values() if section in t.sections)
            raise ValueError(f"{section} is required for task {owners} and not allowed for other tasks")
    task.check_recipe(recipe)
