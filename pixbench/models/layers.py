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


def cubic_phases(scale: int, a: float = -0.75) -> torch.Tensor:
    """Keys cubic weights of the ``scale`` output phases over 4 neighbours, ``(scale, 4)``.

    Output pixel ``o = i * scale + p`` (half-pixel centres) sits at ``i + (p + 0.5) / scale - 0.5``
    in the input; its weights are those of inputs ``i - 2 .. i + 1`` or ``i - 1 .. i + 2``, whichever
    hold it: for ``p < scale / 2`` the point lies left of ``i``. ``a = -0.75`` is torch's and
    ONNX's cubic; Pillow's is ``-0.5``.
    """

    def keys(t: float) -> float:
        t = abs(t)
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.0

    rows = []
    for p in range(scale):
        u = (p + 0.5) / scale - 0.5  # position relative to input i, in [-0.5, 0.5)
        rows.append([keys(u - d) for d in (-2, -1, 0, 1, 2)])
    return torch.tensor(rows, dtype=torch.float32)  # (scale, 5): neighbours i-2 .. i+2


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
