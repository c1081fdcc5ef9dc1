"""``sr-bicubic``: bicubic super-resolution of whole images, as the SR literature scores it.

A sample is one whole source image cropped to a multiple of the factor (``target``), its
MATLAB-bicubic shrink by that factor (``lowres``) and the bicubic upscale of that back to the
target's size (``input``), for every factor of the recipe (x2, x3, x4). A model takes ``lowres``
(ESPCN, FSRCNN: ``pixbench.input=lowres``) or ``input`` (VDSR, DnCNN-3: ``full``), as a
depixelation model takes the grid or the pixelated image. PSNR and SSIM are taken on BT.601
studio-range Y (MATLAB ``rgb2ycbcr``), with ``factor`` pixels cropped from every side
(``docs/tasks/sr-bicubic.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pixbench.tasks.base import Column, Task
from pixbench.tasks.sampling import TaskSample

#: The columns of studio-range luma with the factor's border cropped (the header says ``Y``).
PSNR = Column("psnr", "PSNR dB", "psnr", "f2", "Y")
SSIM = Column("ssim", "SSIM", "ssim", "f4", "Y")
#: SSIM's window (11 pixels) must fit inside the target after the border is cropped.
SSIM_WINDOW = 11


def scored_side(side: int, factor: int) -> int:
    """What is left of a source side after the modcrop to ``factor`` and the border of ``factor`` on each end."""
    return side - side % factor - 2 * factor


class SrBicubicTask(Task):
    """Bicubic SR on whole images, one sample per factor, scored on Y with a border of the factor."""

    def min_side(self, recipe: Any) -> int:
        """The smallest side whose modcropped target keeps an SSIM window inside the border at every factor."""
        factors = recipe.degradations[0].factors
        side = SSIM_WINDOW
        while any(scored_side(side, f) < SSIM_WINDOW for f in factors):
            side += 1
        return side

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        """Level ``index`` of the recipe's factors; nothing is drawn from ``rng``."""
        op = recipe.ops()[0]
        params = dict(op.levels()[index])
        target, lowres, upscaled = op.apply(image, params)
        h, w = target.shape[:2]
        params.update(crop_x=0, crop_y=0, crop_w=w, crop_h=h)
        return TaskSample(input=upscaled, target=target, lowres=lowres, params=params)

    def image_metrics(self, reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
        """PSNR and SSIM on studio-range Y with no border: what validation during training reports.

        ``evaluate`` scores with :meth:`sample_metrics`, which crops the sample's factor from every side.
        """
        return _y_metrics(reference, test, border=0)

    def sample_metrics(
        self, reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None, meta: Mapping[str, Any]
    ) -> dict[str, float]:
        """PSNR and SSIM on studio-range Y with ``factor`` pixels cropped from every side (the papers' border)."""
        factor = meta.get("factor")
        try:
            border = int(factor)
        except (TypeError, ValueError):
            raise ValueError(f"an sr-bicubic sample needs its factor in the metadata, got {factor!r}") from None
        return _y_metrics(reference, test, border=border)


def _y_metrics(reference: np.ndarray, test: np.ndarray, *, border: int) -> dict[str, float]:
    from pixbench import metrics

    return {
        "psnr": metrics.psnr(reference, test, data_range=255, channel="y_studio", crop_border=border),
        "ssim": metrics.ssim(reference, test, data_range=255, channel="y_studio", crop_border=border),
    }


TASK = SrBicubicTask(
    name="sr-bicubic",
    restores=True,
    primary="psnr",
    ops=("bicubic-down",),
    files=("input", "target", "lowres"),
    metadata=("factor",),
    inputs="bicubic upscale of the MATLAB-bicubic low-res image (lowres/)",
    breakdown=("factor",),
    columns=(PSNR, SSIM),
    gains=("psnr", "ssim"),
    whole_images=True,
)
