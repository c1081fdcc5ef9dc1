"""``inpaint``: fill the holes of a crop, given the holed image and its mask."""

from __future__ import annotations

from pixbench.tasks.base import SSIM, Column, Task

TASK = Task(
    name="inpaint",
    restores=True,
    primary="psnr_hole",
    ops=("holes",),
    files=("input", "target", "mask"),
    metadata=("holes",),
    inputs="holed",
    breakdown=(),
    columns=(
        Column("psnr_hole", "PSNR holes dB", "psnr_hole", "f2"),
        Column("l1_hole", "L1 holes", "l1_hole", "f4"),
        Column("psnr_full", "PSNR full dB", "psnr_full", "f2"),
        SSIM,
    ),
    gains=("psnr_hole", "psnr_full"),
)
