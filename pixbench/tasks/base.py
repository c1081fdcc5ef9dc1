"""What a task is: the :class:`Task` type every task module fills in, and its table :class:`Column`.

A task (``detect``, ``depixelate``, ``jpeg``, ``blockcnn``, ``inpaint``) decides what
a recipe may degrade with, how a sample is made from a clean image, which files and
metadata a dataset sample has, what a model is scored on, which metric ranks a table,
and which columns a table shows. Each task is one module beside this one, defining a
subclass of :class:`Task` that fills in the fields and overrides the hooks where the task
differs from the defaults; the stages ask the task and never branch on its name.

A hook that reads a recipe takes it duck-typed (the attributes of
:class:`pixbench.recipes.Recipe`): the tasks sit below the recipes and never import them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixbench.errors import PixbenchError
from pixbench.tasks.sampling import TaskSample


@dataclass(frozen=True)
class Column:
    """One metric column of a leaderboard table.

    Attributes:
        name: The CSV column name.
        header: The Markdown header.
        key: The metric key in a result file (``triplets.<key>`` reads the BlockCNN block scores).
        fmt: How the value is printed: ``pct`` (a ratio as a percentage), ``f2`` or ``f4`` (decimals).
        channel: The colour channels an image metric is computed on (``RGB``, ``Y``), shown in the
            header so that PSNR on RGB and PSNR-B on luma are not read as one scale; ``""`` for others.
    """

    name: str
    header: str
    key: str
    fmt: str
    channel: str = ""

    @property
    def label(self) -> str:
        """The header with its channel, e.g. ``PSNR dB (RGB)``."""
        return f"{self.header} ({self.channel})" if self.channel else self.header


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
            are slid over whole images on the JPEG grid to be scored on them; datasets carry the
            24x24 -> 8x8 triplet arrays beside the images.
        sections: Optional recipe sections the task requires (``negatives``, ``triplets``); every
            other task's recipe must leave them out.
        whole_images: Samples are whole source images, one per level of the recipe's op (every
            image at every quality or scale, none drawn at random); the recipe has no ``crop``.
        level_tables: The :attr:`breakdown` columns that get leaderboard tables of their own, one
            table per value (default: every breakdown column).
        region_breakdown: Properties of the regions inside a sample (``localize``: size, shape, edge)
            that the scoring breaks per-region metrics down by, beside the :attr:`breakdown` columns.
        maps: The model outputs a per-pixel map (a probability or logit of "mosaicked"), scored
            against the sample's ``mask``, which is then the answer rather than a model input.
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
    sections: tuple[str, ...] = ()
    whole_images: bool = False
    level_tables: tuple[str, ...] | None = None
    region_breakdown: tuple[str, ...] = ()
    maps: bool = False

    @property
    def table_breakdown(self) -> tuple[str, ...]:
        """The metadata columns whose values get a leaderboard table each (:attr:`level_tables`)."""
        return self.breakdown if self.level_tables is None else self.level_tables

    @property
    def classifies(self) -> bool:
        """The model outputs one probability per image (neither an image nor a per-pixel map)."""
        return not self.restores and not self.maps

    @property
    def takes_lowres(self) -> bool:
        """Samples carry the low-res grid, so a model may take it and upscale (``lowres`` is a file)."""
        return "lowres" in self.files

    @property
    def takes_mask(self) -> bool:
        """Samples carry a mask that the model takes beside the image (``mask`` is a file of a task without :attr:`maps`)."""
        return "mask" in self.files and not self.maps

    # The hooks: each task module overrides those where its task differs.

    def check_recipe(self, recipe: Any) -> None:
        """Raise ``ValueError`` where a recipe of this task breaks a rule of the task.

        The rules every task shares (the ops, the :attr:`sections`) are checked before, by
        :func:`pixbench.tasks.check_recipe`; this hook adds the task's own (default: none).
        """

    def min_side(self, recipe: Any) -> int:
        """The smallest source side a recipe of this task can make its samples from (default: the crop)."""
        return recipe.crop.size

    def samples_per_image(self, recipe: Any) -> int:
        """How many samples each source image gives: ``crop.per_image``, or one per level of a whole-image op."""
        if self.whole_images:
            return len(recipe.ops()[0].levels())
        return recipe.crop.per_image

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        """Make crop number ``index`` of the clean ``image``, drawing every random choice from ``rng``.

        A pure function of its arguments. The order of the draws is part of a recipe version's
        byte-for-byte contract: changing it needs a new recipe version.
        """
        raise NotImplementedError(f"task {self.name!r} has no sample maker")

    def sample_regions(self, params: Mapping[str, Any]) -> list[tuple[tuple[int, int, int, int], dict[str, str]]]:
        """Tasks with :attr:`maps`: each region a sample's ``params`` record, as its box in the sample's
        pixels (``x0, y0, x1, y1``, end exclusive) and its :attr:`region_breakdown` values (default: none)."""
        return []

    def region_blocks(self, params: Mapping[str, Any]) -> list[float]:
        """Tasks with :attr:`maps`: the block side, in the sample's pixels, of each region of
        :meth:`sample_regions`, in the same order (default: none)."""
        return []

    def card_notes(self, recipe: Any) -> list[str]:
        """Paragraphs the dataset card (``README.md``) adds about this task's files, as lines (default: none)."""
        return []

    def image_metrics(self, reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
        """The metrics a restored ``HxWx3 uint8`` image is scored on, by evaluation and validation alike.

        Default: PSNR and SSIM on RGB (``docs/metrics.md``). ``mask`` is the sample's hole mask, if any.
        """
        from pixbench import metrics

        return {
            "psnr": metrics.psnr(reference, test, data_range=255),
            "ssim": metrics.ssim(reference, test, data_range=255),
        }

    def sample_metrics(
        self, reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None, meta: Mapping[str, Any]
    ) -> dict[str, float]:
        """The metrics ``evaluate`` scores one sample with, given its ``metadata.csv`` row ``meta``.

        Default: :meth:`image_metrics`, which needs nothing from the row. A task whose metrics
        depend on the sample's level (``sr-bicubic`` crops a border as wide as its scale) overrides it.
        """
        return self.image_metrics(reference, test, mask)

    def block_metrics(self, targets: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
        """Blockwise tasks: the score of ``(N, 8, 8, 3) uint8`` centre blocks against their targets.

        One PSNR over all the blocks stacked into an ``(N*8) x 8`` image: the squared error is
        pooled, so a block restored exactly does not make a mean infinite (and the PSNR of a
        single 8x8 block is too noisy to average).
        """
        from pixbench import metrics

        def stack(blocks: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(blocks).reshape(-1, blocks.shape[2], 3)

        return {"psnr": metrics.psnr(stack(targets), stack(outputs), data_range=255)}


class UnknownTaskError(PixbenchError):
    """A task name that is not in :data:`TASKS`."""


#: Columns several restoration tasks share.
PSNR = Column("psnr", "PSNR dB", "psnr", "f2", "RGB")
SSIM = Column("ssim", "SSIM", "ssim", "f4", "RGB")
PSNR_B = Column("psnr_b", "PSNR-B dB", "psnr_b", "f2", "Y")
