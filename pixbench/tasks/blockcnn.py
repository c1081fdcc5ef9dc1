"""``blockcnn``: BlockCNN-style deblocking, a 24x24 JPEG context in and its clean 8x8 centre block out.

Whole-image numbers come from the model slid over the JPEG grid, plus the score on the
24x24 -> 8x8 blocks; its models may also be slid over the images of a ``jpeg`` dataset.
"""

from __future__ import annotations

from pixbench.tasks.base import PSNR, PSNR_B, SSIM, Column, Task

TASK = Task(
    name="blockcnn",
    restores=True,
    primary="psnr",
    ops=("jpeg",),
    files=("input", "target"),
    metadata=("quality",),
    inputs="jpeg-decoded",
    breakdown=("quality",),
    columns=(PSNR, PSNR_B, SSIM, Column("psnr_blocks", "PSNR blocks dB", "triplets.psnr", "f2")),
    gains=("psnr", "psnr_b", "ssim", "triplets.psnr"),
    scores_on=("jpeg",),
    blockwise=True,
)
