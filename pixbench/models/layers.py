"""Building blocks shared by the separable U-Net family of reference models."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pixbench.baselines import keys_cubic


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 convolution followed by a pointwise 1x1 convolution (Keras ``SeparableConv2D``).

    The depthwise kernel carries no bias because a BatchNorm or the pointwise bias follows.
    """

    def __init__(self, in_ch: int, out_ch: int, *, stride: int = 1, kernel: int = 3) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel, stride=stride, padding=kernel // 2, groups=in_ch, bias=False)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SepConvBNReLU(nn.Sequential):
    """Separable convolution, batch normalisation and ReLU: the encoder block of the separable U-Net."""

    def __init__(self, in_ch: int, out_ch: int, *, stride: int = 1) -> None:
        super().__init__(SeparableConv2d(in_ch, out_ch, stride=stride), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


def upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour upsampling of ``x`` to the spatial size of ``like``.

    Upsampling to the skip tensor's size (rather than by a fixed 2x) is what lets the
    U-Nets run on any height and width, 1080 included, which is not a multiple of 32.
    """
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


class Decoder(nn.Module):
    """Upsample to the skip's size, separable conv + BN + ReLU, then add the skip."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = SepConvBNReLU(in_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(upsample_to(x, skip)) + skip


def cubic_phases(scale: int, a: float = -0.75) -> torch.Tensor:
    """Keys cubic weights of the ``scale`` output phases over 5 neighbours, ``(scale, 5)``.

    Output pixel ``o = i * scale + p`` (half-pixel centres) sits at ``i + u`` in the input, with
    ``u = (p + 0.5) / scale - 0.5`` in [-0.5, 0.5); row ``p`` holds the weights of inputs
    ``i - 2 .. i + 2`` (four of them non-zero). ``a = -0.75`` is torch's and ONNX's cubic;
    Pillow's is ``-0.5`` (the formula is :func:`pixbench.baselines.keys_cubic`).
    """
    u = (np.arange(scale) + 0.5) / scale - 0.5
    return torch.tensor(keys_cubic(u[:, None] - np.arange(-2, 3)[None, :], a), dtype=torch.float32)


def grid_bicubic(x: torch.Tensor, grid: int, channels: int = 3) -> torch.Tensor:
    """Bicubic upsampling of the ``grid`` x ``grid`` block means of ``x``, at the size of ``x``.

    For a mosaic (box down, nearest up) pixelated on that grid, the block means are exactly
    the low-resolution image, so this is the bicubic baseline computed inside the graph
    (coefficient -0.75, half-pixel centres, edges clamped: equal to torch's ``bicubic``
    interpolation). It is computed at the low resolution, as two grouped 5-tap convolutions
    (rows, then columns) giving every output phase, and a ``PixelShuffle``: onnxruntime's
    cubic ``Resize`` is about 30x slower at 1080p. Edges are replicated to a multiple of
    ``grid`` first, so any height and width work. ``channels`` is fixed (not read from ``x``)
    so that the exported convolution kernels have a known shape.
    """
    h, w = x.shape[-2], x.shape[-1]
    c = channels
    padded = F.pad(x, (0, (grid - w % grid) % grid, 0, (grid - h % grid) % grid), mode="replicate")
    low = F.pad(F.avg_pool2d(padded, grid), (2, 2, 2, 2), mode="replicate")
    taps = cubic_phases(grid).to(x.dtype)
    rows = F.conv2d(low, taps.repeat(c, 1)[:, None, :, None], groups=c)  # (N, c*grid, h', w'+4)
    both = F.conv2d(rows, taps.repeat(c * grid, 1)[:, None, None, :], groups=c * grid)  # (N, c*grid*grid, h', w')
    return F.pixel_shuffle(both, grid)[:, :, :h, :w]


def residual_output(x: torch.Tensor, y: torch.Tensor, grid: int) -> torch.Tensor:
    """``clip(base + y, 0, 1)``: the correction ``y`` added to ``x``, or to :func:`grid_bicubic` of it."""
    base = grid_bicubic(x, grid) if grid else x
    return (base + y).clamp(0.0, 1.0)
