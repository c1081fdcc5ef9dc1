"""``sepunet-restorer``: the small depthwise/pointwise U-Net of the MobileNetV2 pipeline.

Each level is two separable convolutions (BN, ReLU); levels are joined by 2x2
max-pooling on the way down and by nearest upsampling plus channel *concatenation*
with the skip on the way up; a 1x1 convolution and a sigmoid give the RGB output.
Pooling rounds up (``ceil_mode``) and upsampling matches the skip's size, so any
height and width work. ``residual=True`` outputs ``clip(base + y, 0, 1)``: ``base`` is the
input, or with ``grid=r`` the bicubic upsampling of its ``r x r`` block means (as in
``sepunet-depixelator``).
"""

from __future__ import annotations

import torch
from torch import nn

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec, check_grid
from pixbench.models.layers import SepConvBNReLU, residual_output, upsample_to

# -- blocks ----------------------------------------------------------------------------


class DoubleSepConv(nn.Sequential):
    """Two separable conv + BN + ReLU blocks at one resolution."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(SepConvBNReLU(in_ch, out_ch), SepConvBNReLU(out_ch, out_ch))


# -- model -----------------------------------------------------------------------------


class SepUNetRestorer(nn.Module):
    """Depthwise/pointwise U-Net with max-pool and concatenation skips.

    Args:
        width: Channels at full resolution, doubled at each of the ``depth`` levels.
        depth: Number of max-pool steps.
        residual: Output ``clip(base + y, 0, 1)`` (a correction of ``base``) instead of ``sigmoid(y)``.
        grid: ``0``: ``base`` is the input; ``r >= 2``: :func:`grid_bicubic` of it (needs ``residual``).
    """

    def __init__(self, *, width: int, depth: int, residual: bool, grid: int = 0) -> None:
        super().__init__()
        self.residual = residual
        self.grid = grid
        chans = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [DoubleSepConv(3, width)] + [DoubleSepConv(chans[i], chans[i + 1]) for i in range(depth)]
        )
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.up = nn.ModuleList(DoubleSepConv(chans[i + 1] + chans[i], chans[i]) for i in reversed(range(depth)))
        self.out = nn.Conv2d(width, 3, 1)
        if residual:  # start exactly at the base: the first steps refine it instead of undoing noise
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a degraded ``(N, 3, H, W)`` image in [0, 1] to its restoration."""
        skips = []
        y = x
        for i, block in enumerate(self.down):
            y = block(y if i == 0 else self.pool(y))
            skips.append(y)
        y = skips.pop()
        for block in self.up:
            skip = skips.pop()
            y = block(torch.cat([upsample_to(y, skip), skip], dim=1))
        y = self.out(y)
        if not self.residual:
            return torch.sigmoid(y)
        return residual_output(x, y, self.grid)


# -- factory ---------------------------------------------------------------------------


def sepunet_restorer(width: int = 16, depth: int = 3, residual: bool = False, grid: int = 0) -> SepUNetRestorer:
    """Build the small separable U-Net restorer."""
    if width < 1 or not 1 <= depth <= 6:
        raise ModelError(f"sepunet-restorer: need width >= 1 and depth in 1..6, got width={width}, depth={depth}")
    check_grid("sepunet-restorer", grid, residual)
    return SepUNetRestorer(width=width, depth=depth, residual=residual, grid=grid)


SPEC = ModelSpec(
    name="sepunet-restorer",
    factory=sepunet_restorer,
    tasks=("jpeg", "depixelate"),
    input_kind="full",
    output="image",
    size_budget_mb=10.0,
    train_crop=128,
    crop_align=8,
    default_lr=1e-3,
    tiny_args={"width": 4, "depth": 2},
    summary="depthwise/pointwise U-Net with max-pool, concatenation skips and sigmoid output",
)
