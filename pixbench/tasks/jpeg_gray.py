"""``jpeg-gray``: remove JPEG artifacts from whole grayscale images, as the JPEG literature scores it.

A sample is one whole source image in gray (``target``: Classic5 as it is, a colour photo as its
BT.601 studio-range luma, which is how the published LIVE1 grayscale set is made) and its
one-component JPEG round trip at one quality (``input``); every image gives one sample per quality
of the recipe. Gray images are stored with the plane in all three channels. PSNR, SSIM and PSNR-B
are taken on the gray plane, with no border (``docs/tasks/jpeg-gray.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixbench.degradations.gray import as_rgb, display_gray, gray_plane
from pixbench.tasks.base import Column, Task
from pixbench.tasks.sampling import TaskSample

#: The columns of the gray plane (the header says so: ``PSNR dB (gray)``).
PSNR = Column("psnr", "PSNR dB", "psnr", "f2", "gray")
SSIM = Column("ssim", "SSIM", "ssim", "f4", "gray")
PSNR_B = Column("psnr_b", "PSNR-B dB", "psnr_b", "f2", "gray")
#: PSNR-B needs more than one 8x8 block and SSIM an 11x11 window: the smallest side a source may have.
MIN_SIDE = 16


class JpegGrayTask(Task):
    """Grayscale JPEG artifact removal on whole images, one sample per quality, no border."""

    def min_side(self, recipe: Any) -> int:
        return MIN_SIDE

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        """Level ``index`` of the recipe's qualities; nothing is drawn from ``rng``."""
        op = recipe.ops()[0]
        params = dict(op.levels()[index])
        plane, made = gray_plane(image)
        degraded = op.apply(plane, params)
        h, w = plane.shape
        params.update(gray=made, crop_x=0, crop_y=0, crop_w=w, crop_h=h)
        return TaskSample(input=as_rgb(degraded), target=as_rgb(plane), params=params)

    def image_metrics(self, reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
        """PSNR, SSIM and PSNR-B of the gray planes (Pillow's ``convert("L")``, exact for gray pixels).

        PSNR-B counts block boundaries as Yim and Bovik's formula does (``boundary_counts="yim-bovik"``),
        which the published LIVE1 numbers follow (``docs/metrics.md``).
        """
        from pixbench import metrics

        return metrics.restoration_metrics(
            display_gray(reference), display_gray(test), data_range=255, boundary_counts="yim-bovik"
        )


TASK = JpegGrayTask(
    name="jpeg-gray",
    restores=True,
    primary="psnr",
    ops=("gray-jpeg",),
    files=("input", "target"),
    metadata=("quality",),
    inputs="grayscale jpeg-decoded (the gray plane in all three channels)",
    breakdown=("quality",),
    columns=(PSNR, SSIM, PSNR_B),
    gains=("psnr", "ssim", "psnr_b"),
    whole_images=True,
)
