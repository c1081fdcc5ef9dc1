"""``depixelate``: restore a pixelated crop, from the pixelated image or from its low-res grid."""

from __future__ import annotations

from pixbench.tasks.base import PSNR, SSIM, Task

TASK = Task(
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
)
