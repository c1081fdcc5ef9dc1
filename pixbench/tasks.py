"""The task table: everything pixbench knows about a task, in one place.

A task (``detect``, ``depixelate``, ``jpeg``, ``blockcnn``, ``inpaint``) decides what
a recipe may degrade with, which files and metadata a dataset sample has, what a
model is scored on, which metric ranks a table, and which columns a table shows.
Every stage reads that knowledge from :data:`TASKS` instead of keeping its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixbench.errors import PixbenchError


@dataclass(frozen=True)
class Column:
    """One metric column of a leaderboard table.

    Attributes:
        name: The CSV column name.
        header: The Markdown header.
        key: The metric key in a result file (``triplets.<key>`` reads the BlockCNN block scores).
        fmt: How the value is printed: ``pct`` (a ratio as a percentage), ``f2`` or ``f4`` (decimals).
    """

    name: str
    header: str
    key: str
    fmt: str


@dataclass(frozen=True)
class Task:
    """What one task is, for every stage.

    Attributes:
        name: The task's name in recipes, datasets, models and result files.
        restores: The model outputs an image (scored against a clean target), rather than a probability.
        primary: The metric key that ranks a table (higher is better).
        ops: The degradation ops a recipe of this task takes, in order.
        files: Image columns of a sample, each written as ``<kind>_file_name``.
        metadata: Flat metadata columns of a sample (beside the ones every sample has).
        inputs: What a sample's ``input`` image holds, in words (``dataset.json`` key ``inputs``).
        breakdown: Metadata columns that results are broken down by, where a dataset has them.
        columns: The metric columns of a leaderboard table, in order.
        gains: Metric keys whose gain over the degraded input gets a table column.
        scores_on: Other tasks whose datasets a model of this task may be scored on.
    """

    name: str
    restores: bool
    primary: str
    ops: tuple[str, ...]
    files: tuple[str, ...]
    metadata: tuple[str, ...]
    inputs: str
    breakdown: tuple[str, ...]
    columns: tuple[Column, ...]
    gains: tuple[str, ...] = ()
    scores_on: tuple[str, ...] = ()


_PSNR = Column("psnr", "PSNR dB", "psnr", "f2")
_SSIM = Column("ssim", "SSIM", "ssim", "f4")
_PSNR_B = Column("psnr_b", "PSNR-B dB", "psnr_b", "f2")

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="detect",
            restores=False,
            primary="accuracy",
            ops=("pixelate",),
            files=("input",),
            metadata=("label", "factor", "down_kernel", "up_kernel", "negative_kind", "quality"),
            inputs="crop, pixelated where label=1",
            breakdown=("factor", "down_kernel", "up_kernel", "quality", "negative_kind"),
            columns=(
                Column("accuracy", "accuracy", "accuracy", "pct"),
                Column("precision", "precision", "precision", "pct"),
                Column("recall", "recall", "recall", "pct"),
                Column("f1", "F1", "f1", "pct"),
                Column("fp_rate", "FP rate", "fpr", "pct"),
                Column("roc_auc", "ROC-AUC", "roc_auc", "f4"),
            ),
        ),
        Task(
            name="depixelate",
            restores=True,
            primary="psnr",
            ops=("pixelate",),
            files=("input", "target", "lowres"),
            metadata=("factor", "down_kernel", "up_kernel"),
            inputs="pixelated",
            breakdown=("factor", "down_kernel", "up_kernel"),
            columns=(_PSNR, _SSIM),
            gains=("psnr", "ssim"),
        ),
        Task(
            name="jpeg",
            restores=True,
            primary="psnr",
            ops=("jpeg",),
            files=("input", "target"),
            metadata=("quality",),
            inputs="jpeg-decoded",
            breakdown=("quality",),
            columns=(_PSNR, _PSNR_B, _SSIM),
            gains=("psnr", "psnr_b", "ssim"),
        ),
        Task(
            # BlockCNN: whole-image numbers (the model slid over the JPEG grid) plus the score on the
            # 24x24 -> 8x8 blocks; its models may also be slid over the images of a jpeg dataset.
            name="blockcnn",
            restores=True,
            primary="psnr",
            ops=("jpeg",),
            files=("input", "target"),
            metadata=("quality",),
            inputs="jpeg-decoded",
            breakdown=("quality",),
            columns=(_PSNR, _PSNR_B, _SSIM, Column("psnr_blocks", "PSNR blocks dB", "triplets.psnr", "f2")),
            gains=("psnr", "psnr_b", "ssim", "triplets.psnr"),
            scores_on=("jpeg",),
        ),
        Task(
            name="inpaint",
            restores=True,
            primary="psnr_hole",
            ops=("holes",),
            files=("input", "target", "mask"),
            metadata=("holes",),
            inputs="holed",
            breakdown=(),
            columns=(
                Column("psnr_hole", "PSNR holes dB", "psnr_hole", "f2"),
                Column("l1_hole", "L1 holes", "l1_hole", "f4"),
                Column("psnr_full", "PSNR full dB", "psnr_full", "f2"),
                _SSIM,
            ),
            gains=("psnr_hole", "psnr_full"),
        ),
    )
}

#: Task names, in the order docs and tables list them.
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
#: Tasks whose models output an image.
RESTORATION_TASKS: tuple[str, ...] = tuple(name for name, task in TASKS.items() if task.restores)


class UnknownTaskError(PixbenchError):
    """A task name that is not in :data:`TASKS`."""


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
