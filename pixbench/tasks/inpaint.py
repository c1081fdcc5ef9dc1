"""``inpaint``: fill the holes of a crop, given the holed image and its mask.

A sample is a clean crop (``target``), the crop with ``count`` non-overlapping square holes
filled with one value (``input``) and the hole mask (``mask``: 255 in a hole)
(``docs/tasks/inpaint.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixbench.degradations.holes import holes_mask
from pixbench.tasks.base import SSIM, Column, Task
from pixbench.tasks.sampling import TaskSample, random_crop


class InpaintTask(Task):
    """Inpainting: the holes must fit the crop, and the errors inside them are scored beside the whole image's."""

    def check_recipe(self, recipe: Any) -> None:
        op, size = recipe.degradations[0], recipe.crop.size
        if 2 * op.size > size and op.count > 1:
            raise ValueError(f"{op.count} holes of {op.size}px do not fit side by side in a {size}px crop")

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        size = recipe.crop.size
        clean, where = random_crop(image, recipe, rng)
        op = recipe.ops()[0]
        params = op.sample(rng, height=size, width=size)
        mask = holes_mask(size, size, [tuple(b) for b in params["holes"]])
        params.update(where)
        return TaskSample(input=op.apply(clean, params), target=clean, mask=mask, params=params)

    def card_notes(self, recipe: Any) -> list[str]:
        return [
            f"Holes are filled with the value {recipe.degradations[0].fill} in every channel; "
            "`mask/` is 255 inside a hole, 0 elsewhere; `holes` lists `[x, y, w, h]`.",
            "",
        ]

    def image_metrics(self, reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
        """PSNR and SSIM over the whole image and, given the mask, the errors inside the holes and overall.

        The hole metrics are ``docs/metrics.md``'s ``masked_metrics``: ``psnr_hole`` (the primary),
        ``l1_hole``, ``mse_hole`` and their ``_full`` counterparts.
        """
        from pixbench import metrics

        out = super().image_metrics(reference, test, mask)
        if mask is not None:
            out.update(metrics.masked_metrics(reference, test, mask, data_range=255))
        return out


TASK = InpaintTask(
    name="inpaint",
    restores=True,
    primary="psnr_hole",
    ops=("holes",),
    files=("input", "target", "mask"),
    metadata=("holes",),
    inputs="holed",
    breakdown=(),
    columns=(
        Column("psnr_hole", "PSNR holes dB", "psnr_hole", "f2", "RGB"),
        Column("l1_hole", "L1 holes", "l1_hole", "f4", "RGB"),
        Column("psnr_full", "PSNR full dB", "psnr_full", "f2", "RGB"),
        SSIM,
    ),
    gains=("psnr_hole", "psnr_full"),
)
