"""``blockcnn``: the BlockCNN JPEG artifact remover, 24x24x3 context -> 8x8x3 centre block.

The public BlockCNN code is the compression (block prediction) variant: its unpadded
kernels do not map a 24x24 input to an 8x8 output. This artifact-removal variant keeps
the 24x24 grid through the whole body (all 3x3 convolutions are zero-padded, so the
centre block sees all of its eight neighbouring blocks), then cuts out the centre 8x8
and adds it to the centre of the input: the network predicts the *correction* to the
JPEG-decoded block. The body is a 3x3 stem, residual blocks (3x3 conv, BN, ReLU,
3x3 conv, BN, skip), and a 1x1 bottleneck to the 3 output channels. Only 24x24 inputs
are accepted; the batch size is dynamic.

``unshuffle=2`` is a speed option (as in the separable U-Nets): the body runs on the
``PixelUnshuffle(2)`` of the context (12 channels at 12x12, where the 8-pixel JPEG grid is
a 4-pixel one) and ``PixelShuffle`` brings the correction back to 24x24. Each 3x3
convolution then covers 6x6 pixels at a quarter of the cost (``docs/models.md``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.degradations.blocks import BLOCK, CONTEXT
from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec

# -- blocks ----------------------------------------------------------------------------


def _conv3(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    """A padded 3x3 convolution, followed by BN when ``norm`` (which makes its bias redundant)."""
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=not norm)
    return [conv, nn.BatchNorm2d(cout)] if norm else [conv]


class ResidualBlock(nn.Module):
    """Two padded 3x3 convolutions, ReLU between, and an identity skip.

    ``norm=True``: BN after each convolution and a ReLU after the sum (the paper's block).
    ``norm=False``: no BN and nothing after the sum (the EDSR block, Lim et al. 2017).
    """

    def __init__(self, channels: int, *, norm: bool = True) -> None:
        super().__init__()
        self.norm = norm
        self.body = nn.Sequential(
            *_conv3(channels, channels, norm), nn.ReLU(inplace=True), *_conv3(channels, channels, norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x)) if self.norm else x + self.body(x)


# -- model -----------------------------------------------------------------------------


class BlockCNN(nn.Module):
    """Residual CNN that restores the centre 8x8 block of a 24x24 JPEG context.

    Args:
        channels: Feature channels of the body.
        blocks: Number of residual blocks.
        unshuffle: Run the body on ``PixelUnshuffle(unshuffle)`` of the context (1: full resolution).
        norm: Batch normalisation in the stem and the residual blocks (the paper's); ``False``
            drops it, as EDSR does for restoration.
    """

    def __init__(self, *, channels: int, blocks: int, unshuffle: int = 1, norm: bool = True) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        io_ch = 3 * unshuffle * unshuffle
        self.stem = nn.Sequential(*_conv3(io_ch, channels, norm), nn.ReLU(inplace=True))
        self.body = nn.Sequential(*(ResidualBlock(channels, norm=norm) for _ in range(blocks)))
        self.tail = nn.Sequential(
            nn.Conv2d(channels, channels // 2, 1), nn.ReLU(inplace=True), nn.Conv2d(channels // 2, io_ch, 1)
        )

    def restore_context(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 3, 24, 24)`` in [0, 1] to the whole restored context ``(N, 3, 24, 24)``.

        Training with ``--context-loss`` supervises all of it; the model's answer is the centre.
        """
        r = self.unshuffle
        y = self.tail(self.body(self.stem(F.pixel_unshuffle(x, r) if r > 1 else x)))
        if r > 1:
            y = F.pixel_shuffle(y, r)
        return torch.clamp(x + y, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 3, 24, 24)`` in [0, 1] to the restored centre ``(N, 3, 8, 8)``."""
        return self.restore_context(x)[:, :, BLOCK : 2 * BLOCK, BLOCK : 2 * BLOCK]


# -- factory ---------------------------------------------------------------------------


def blockcnn(channels: int = 64, blocks: int = 4, unshuffle: int = 1, norm: bool = True) -> BlockCNN:
    """Build the BlockCNN artifact remover."""
    if channels < 2 or blocks < 0:
        raise ModelError(f"blockcnn: need channels >= 2 and blocks >= 0, got channels={channels}, blocks={blocks}")
    if unshuffle not in (1, 2, 4, 8):
        raise ModelError(f"blockcnn: unshuffle must divide the 8-pixel block (1, 2, 4 or 8), got {unshuffle}")
    return BlockCNN(channels=channels, blocks=blocks, unshuffle=unshuffle, norm=norm)


SPEC = ModelSpec(
    name="blockcnn",
    factory=blockcnn,
    tasks=("blockcnn",),
    input_kind="triplet",
    output="image",
    size_budget_mb=5.0,
    train_crop=None,
    default_lr=1e-3,
    fixed_hw=(CONTEXT, CONTEXT),
    tiny_args={"channels": 4, "blocks": 1},
    summary="BlockCNN artifact remover: 24x24 context -> 8x8 centre, padded residual body, 1x1 tail",
)
