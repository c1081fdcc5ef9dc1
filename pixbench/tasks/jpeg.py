"""``jpeg``: remove JPEG artifacts from a decoded crop (colour, 4:2:0, on the 8x8 grid)."""

from __future__ import annotations

from pixbench.tasks.base import PSNR, PSNR_B, SSIM, Task

TASK = Task(
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
