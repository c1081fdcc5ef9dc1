"""What a task is: the :class:`Task` type every task module fills in, and its table :class:`Column`.

A task (``detect``, ``depixelate``, ``jpeg``, ``blockcnn``, ``inpaint``) decides what
a recipe may degrade with, which files and metadata a dataset sample has, what a
model is scored on, which metric ranks a table, and which columns a table shows.
Each task is one module beside this one; the stages ask the task and never branch on its name.
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
        blockwise: Models map a 24x24 context to its clean 8x8 centre block (BlockCNN-style), and
            are slid over whole images on the JPEG grid to be scored on them.
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
    blockwise: bool = False

    @property
    def takes_lowres(self) -> bool:
        """Samples carry the low-res grid, so a model may take it and upscale (``lowres`` is a file)."""
        return "lowres" in self.files

    @property
    def takes_mask(self) -> bool:
        """Samples carry a mask that the model takes beside the image (``mask`` is a file)."""
        return "mask" in self.files


class UnknownTaskError(PixbenchError):
    """A task name that is not in :data:`TASKS`."""


#: Columns several restoration tasks share.
PSNR = Column("psnr", "PSNR dB", "psnr", "f2")
SSIM = Column("ssim", "SSIM", "ssim", "f4")
PSNR_B = Column("psnr_b", "PSNR-B dB", "psnr_b", "f2")
