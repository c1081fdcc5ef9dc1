"""The tasks: one module per task, and the registry that every stage asks.

A task (``detect``, ``depixelate``, ``jpeg``, ``blockcnn``, ``inpaint``) decides what a recipe
may degrade with, which files and metadata a dataset sample has, what a model is scored on,
which metric ranks a table, and which columns a table shows. Each is one module here that
defines ``TASK``; :data:`TASKS` lists them by explicit import, in the order docs and tables use.
"""

from __future__ import annotations

from pixbench.tasks import blockcnn, depixelate, detect, inpaint, jpeg
from pixbench.tasks.base import Column, Task, UnknownTaskError

__all__ = [
    "RESTORATION_TASKS",
    "TASKS",
    "TASK_NAMES",
    "Column",
    "Task",
    "UnknownTaskError",
    "can_score",
    "get_task",
    "primary_metric",
]


def _register(*tasks: Task) -> dict[str, Task]:
    out: dict[str, Task] = {}
    for task in tasks:
        if task.name in out:
            raise ValueError(f"task {task.name!r} is registered twice")
        out[task.name] = task
    return out


TASKS: dict[str, Task] = _register(detect.TASK, depixelate.TASK, jpeg.TASK, blockcnn.TASK, inpaint.TASK)

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
