"""``sepunet-depixelator``: the separable U-Net of the separable U-Net paper, for full-size inputs.

Two translate encoders (stride 1), five encoders (stride 2), five decoders (2x nearest
upsample, separable conv, BN, ReLU, then *add* the encoder skip) and two translate
decoders. The last translate decoder has no ReLU: its output is added to the input
image and passed through a sigmoid. Upsample-then-convolve is used instead of a
transposed convolution because the paper saw checkerboard artifacts with the latter.

``unshuffle=r`` (default 1, the paper's network) is a speed option: the image is first
rearranged into ``3*r*r`` channels at ``1/r`` of the resolution (``PixelUnshuffle``), the
U-Net runs there, and ``PixelShuffle`` restores full size before the residual sigmoid.
Full-resolution tensors then carry 3 channels instead of ``width``, which is what
memory-bound 1080p inference on a small CPU pays for (see ``docs/models.md``).

``residual=True`` replaces the paper's ``sigmoid(x + y)`` by ``clip(base + y, 0, 1)``, so the
network starts at ``base`` and learns a correction. ``base`` is the input itself, or, with
``grid=r``, the bicubic upsampling of the input's ``r x r`` block means (for a mosaic on
that grid: the ``bicubic-x<r>`` baseline computed in the graph).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec, check_grid
from pixbench.models.layers import Decoder, SeparableConv2d, SepConvBNReLU, residual_output

# -- model -----------------------------------------------------------------------------


class SepUNetDepixelator(nn.Module):
    """Separable U-Net with additive skips and a residual sigmoid output.

    Args:
        width: Channels at full resolution; encoder ``i`` has ``width * 2**(i+1)``
            channels, capped at ``max_width``.
        max_width: Largest number of channels in any block.
        unshuffle: Run the U-Net on ``PixelUnshuffle(unshuffle)`` of the input (1: full resolution).
        residual: Output ``clip(base + y, 0, 1)``, so the network starts at ``base`` and learns a
            correction, instead of the paper's ``sigmoid(x + y)`` (whose zero point is not the input).
        grid: ``0``: ``base`` is the input. ``r >= 2``: ``base`` is :func:`grid_bicubic` of the
            input on an ``r`` grid (needs ``residual``).
    """

    def __init__(self, *, width: int, max_width: int, unshuffle: int, residual: bool, grid: int = 0) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        self.residual = residual
        self.grid = grid
        io_ch = 3 * unshuffle * unshuffle
        chans = [width] + [min(width * 2 ** (i + 1), max_width) for i in range(5)]
        self.translate_in = nn.Sequential(SepConvBNReLU(io_ch, width), SepConvBNReLU(width, width))
        self.encoders = nn.ModuleList(SepConvBNReLU(chans[i], chans[i + 1], stride=2) for i in range(5))
        # decoder i brings level i+1 back to level i, whose skip it adds
        self.decoders = nn.ModuleList(Decoder(chans[i + 1], chans[i]) for i in reversed(range(5)))
        self.translate_mid = SepConvBNReLU(width, width)
        self.translate_out = SeparableConv2d(width, io_ch)
        if residual:  # start exactly at the base: the first steps refine it instead of undoing noise
            nn.init.zeros_(self.translate_out.pointwise.weight)
            nn.init.zeros_(self.translate_out.pointwise.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a pixelated ``(N, 3, H, W)`` image in [0, 1] to its restoration, any H and W."""
        r = self.unshuffle
        h, w = x.shape[-2], x.shape[-1]
        if r > 1:  # pad to a multiple of r (replicating the edge), fold r x r pixels into channels
            x_in = F.pixel_unshuffle(F.pad(x, (0, (r - w % r) % r, 0, (r - h % r) % r), mode="replicate"), r)
        else:
            x_in = x
        skips = [self.translate_in(x_in)]
        for enc in self.encoders:
            skips.append(enc(skips[-1]))
        y = skips.pop()
        for dec in self.decoders:
            y = dec(y, skips.pop())
        y = self.translate_out(self.translate_mid(y))
        if r > 1:
            y = F.pixel_shuffle(y, r)[:, :, :h, :w]
        if not self.residual:
            return torch.sigmoid(y + x)
        return residual_output(x, y, self.grid)


# -- factory ---------------------------------------------------------------------------


def sepunet_depixelator(
    width: int = 8, max_width: int = 64, unshuffle: int = 1, residual: bool = False, grid: int = 0
) -> SepUNetDepixelator:
    """Build the separable U-Net depixelator (kept narrow at full resolution for 1080p speed)."""
    if width < 1 or max_width < width:
        raise ModelError(f"sepunet-depixelator: need 1 <= width <= max_width, got width={width}, max_width={max_width}")
    if not 1 <= unshuffle <= 8:
        raise ModelError(f"sepunet-depixelator: unshuffle must be in 1..8, got {unshuffle}")
    check_grid("sepunet-depixelator", grid, residual)
    return SepUNetDepixelator(width=width, max_width=max_width, unshuffle=unshuffle, residual=residual, grid=grid)


SPEC = ModelSpec(
    name="sepunet-depixelator",
    factory=sepunet_depixelator,
    tasks=("depixelate",),
    input_kind="full",
    output="image",
    size_budget_mb=10.0,
    train_crop=128,
    crop_align=0,
    default_lr=1e-3,
    tiny_args={"width": 4, "max_width": 8, "unshuffle": 2},
    summary="separable U-Net (2 translate, 5 encoders, 5 upsample+conv decoders, additive skips, residual sigmoid)",
)
