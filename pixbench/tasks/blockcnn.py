"""``blockcnn``: BlockCNN-style deblocking, a 24x24 JPEG context in and its clean 8x8 centre block out.

A sample is a ``jpeg`` sample (same crop, same draws) plus the triplets cut from it: 8x8
blocks on the JPEG grid with their 24x24 decoded context, ``triplets.per_crop`` of them
(``docs/tasks/blockcnn.md``). Whole-image numbers come from the model slid over the JPEG
grid, plus the score on the 24x24 -> 8x8 blocks; its models may also be slid over the
images of a ``jpeg`` dataset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixbench.degradations.blocks import block_positions, extract_triplets
from pixbench.tasks.base import PSNR, PSNR_B, SSIM, Column
from pixbench.tasks.jpeg import JpegTask
from pixbench.tasks.sampling import TaskSample


class BlockcnnTask(JpegTask):
    """BlockCNN: a JPEG sample and its triplets; the recipe rules and metrics of ``jpeg``."""

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        sample = super().make_sample(image, recipe, rng, index)
        positions = block_positions(*sample.target.shape[:2])
        per_crop = recipe.triplets.per_crop if recipe.triplets else "all"
        if per_crop != "all" and per_crop < len(positions):
            picked = np.sort(rng.choice(len(positions), size=per_crop, replace=False))
            positions = [positions[i] for i in picked]
        xs, ys = extract_triplets(sample.input, sample.target, positions)
        sample.triplets = (xs, ys, positions)
        return sample


TASK = BlockcnnTask(
    name="blockcnn",
    restores=True,
    primary="psnr",
    ops=("jpeg",),
    files=("input", "target"),
    metadata=("quality",),
    inputs="jpeg-decoded",
    breakdown=("quality",),
    columns=(PSNR, PSNR_B, SSIM, Column("psnr_blocks", "PSNR blocks dB", "triplets.psnr", "f2", "RGB")),
    gains=("psnr", "psnr_b", "ssim", "triplets.psnr"),
    scores_on=("jpeg",),
    blockwise=True,
    sections=("triplets",),
)
