"""Building blocks shared by the separable U-Net family of reference models."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


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


def grid_bicubic(x: torch.Tensor, grid: int) -> torch.Tensor:
    """Bicubic upsampling of the ``grid`` x ``grid`` block means of ``x``, at the size of ``x``.

    For a mosaic (box down, nearest up) pixelated on that grid, the block means are exactly
    the low-resolution image, so this is the ``bicubic-x<grid>`` baseline computed inside the
    graph (torch's and ONNX's cubic, coefficient -0.75). Edges are replicated to a multiple of
    ``grid`` first, so any height and width work.
    """
    h, w = x.shape[-2], x.shape[-1]
    padded = F.pad(x, (0, (grid - w % grid) % grid, 0, (grid - h % grid) % grid), mode="replicate")
    low = F.avg_pool2d(padded, grid)
    return F.interpolate(low, scale_factor=float(grid), mode="bicubic", align_corners=False)[:, :, :h, :w]
