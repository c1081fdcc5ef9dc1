"""``jpeg``: remove JPEG artifacts from a decoded crop (colour, 4:2:0, on the 8x8 grid).

A sample is a clean crop (``target``) and its JPEG round trip at a quality drawn from the
recipe (``input``); crops sit on the 8x8 grid and span whole 16x16 chroma blocks
(``docs/tasks/jpeg.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixbench.tasks.base import PSNR, PSNR_B, SSIM, Task
from pixbench.tasks.sampling import TaskSample, random_crop


class JpegTask(Task):
    """JPEG artifact removal: crops on the coding grid, scored with PSNR-B beside PSNR and SSIM."""

    def check_recipe(self, recipe: Any) -> None:
        if recipe.crop.size % 16 or recipe.crop.align % 8:
            raise ValueError("jpeg/blockcnn crops need crop.size a multiple of 16 and crop.align a multiple of 8")

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        clean, where = random_crop(image, recipe, rng)
        op = recipe.ops()[0]
        params = op.sample(rng)
        params.update(where)
        return TaskSample(input=op.apply(clean, params), target=clean, params=params)

    def image_metrics(self, reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
        """PSNR, SSIM and PSNR-B (``docs/metrics.md``), in one call that shares the passes over the pixels.

        Equal, value for value, to ``psnr``, ``ssim`` and ``psnr_b`` called separately.
        """
        from pixbench import metrics

        return metrics.restoration_metrics(reference, test, data_range=255)


TASK = JpegTask(
    name="jpeg",
    restores=True,
    primary="psnr",
    ops=("jpeg",),
    files=("input", "target"),
    metadata=("quality",),
    inputs="jpeg-decoded",
    breakdown=("quality",),
    columns=(PSNR, PSNR_B, SSIM),
    gains=("psnr", "psnr_b", "ssim"),
)
