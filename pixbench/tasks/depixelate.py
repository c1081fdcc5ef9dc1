"""``depixelate``: restore a pixelated crop, from the pixelated image or from its low-res grid.

A sample is a clean crop (``target``), its low-res grid (``lowres``: the crop shrunk by the
factor with the down kernel) and that grid blown back up with the up kernel (``input``)
(``docs/tasks/depixelate.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixbench.degradations.pixelate import downscale, upscale
from pixbench.tasks.base import PSNR, SSIM, Task
from pixbench.tasks.sampling import TaskSample, random_crop


class DepixelateTask(Task):
    """Depixelation: whole blocks only, so every factor divides the crop and its alignment."""

    def check_recipe(self, recipe: Any) -> None:
        crop = recipe.crop
        bad = [f for f in recipe.degradations[0].factors if crop.size % f or crop.align % f]
        if bad:
            raise ValueError(
                f"depixelate factors {bad} must divide crop.size ({crop.size}) and crop.align ({crop.align})"
            )

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        size = recipe.crop.size
        clean, where = random_crop(image, recipe, rng)
        params = recipe.ops()[0].sample(rng)
        lowres = downscale(clean, factor=params["factor"], kernel=params["down_kernel"])
        degraded = upscale(lowres, size=(size, size), kernel=params["up_kernel"])
        params.update(where)
        return TaskSample(input=degraded, target=clean, lowres=lowres, params=params)


TASK = DepixelateTask(
    name="depixelate",
    restores=True,
    primary="psnr",
    ops=("pixelate",),
    files=("input", "target", "lowres"),
    metadata=("factor", "down_kernel", "up_kernel"),
    inputs="pixelated",
    breakdown=("factor", "down_kernel", "up_kernel"),
    columns=(PSNR, SSIM),
    gains=("psnr", "ssim"),
    scores_on=("sr-bicubic",),  # an upscaler of the low-res grid is an upscaler of the bicubic low-res image
)
