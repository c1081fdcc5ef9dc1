"""``espcn``: the ESPCN-style super-resolution model, run on the low-resolution grid.

A pixelated image is its low-resolution grid upscaled by nearest neighbour, so the
model reads that grid (``pixbench.input=lowres``) and upsamples it by ``scale``:
conv 5x5 (16) -> conv 3x3 (16) -> conv 2x2 (16) with residual connections, a
pixel-attention block (1x1 conv + sigmoid gating), and a sub-pixel convolution
(``PixelShuffle``). The output adds an upscale of the input, so the network learns a
correction, and is clamped to [0, 1]. The upscale is nearest neighbour (``base="nearest"``: the
pixelated image, for depixelation) or bicubic (``base="bicubic"``: Keys a = -0.75 as torch and ONNX
``Resize`` compute it, for ``sr-bicubic``, whose targets are smooth).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec

# -- blocks ----------------------------------------------------------------------------


class PixelAttention(nn.Module):
    """Pixel attention: a 1x1 convolution and sigmoid give a per-pixel, per-channel gate."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gate = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.gate(x))


class Conv2x2Same(nn.Module):
    """2x2 convolution padded on the right and bottom so the size is kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="replicate"))


# -- model -----------------------------------------------------------------------------


class ESPCN(nn.Module):
    """Sub-pixel convolution upscaler with residual features and pixel attention.

    Args:
        scale: Upscale factor (the pixelation factor of the dataset).
        channels: Feature channels of every convolution.
        base: Upscale the residual is added to: ``nearest`` or ``bicubic``.
    """

    def __init__(self, *, scale: int, channels: int, base: str = "nearest") -> None:
        super().__init__()
        self.scale = scale
        self.base = base
        self.conv1 = nn.Conv2d(3, channels, 5, padding=2)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv3 = Conv2x2Same(channels)
        self.attention = PixelAttention(channels)
        self.upsample = nn.Sequential(nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a ``(N, 3, h, w)`` low-resolution grid in [0, 1] to ``(N, 3, h*scale, w*scale)``."""
        f1 = torch.tanh(self.conv1(x))
        f2 = torch.tanh(self.conv2(f1)) + f1
        f3 = torch.tanh(self.conv3.forward(f2)) + f2
        residual = self.upsample(self.attention(f3))
        if self.base == "bicubic":
            base = F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)
        else:
            base = F.interpolate(x, scale_factor=float(self.scale), mode="nearest")
        return torch.clamp(base + residual, 0.0, 1.0)


# -- factory ---------------------------------------------------------------------------

#: The upscales the residual output can correct.
BASES = ("nearest", "bicubic")


def espcn(scale: int = 4, channels: int = 16, base: str = "nearest") -> ESPCN:
    """Build the ESPCN upscaler for one factor (``base``: the upscale its output corrects)."""
    if not 2 <= scale <= 32:
        raise ModelError(f"espcn: scale must be in 2..32, got {scale}")
    if channels < 1:
        raise ModelError(f"espcn: channels must be >= 1, got {channels}")
    if base not in BASES:
        raise ModelError(f"espcn: base must be one of {', '.join(BASES)}, got {base!r}")
    return ESPCN(scale=scale, channels=channels, base=base)


SPEC = ModelSpec(
    name="espcn",
    factory=espcn,
    tasks=("depixelate", "sr-bicubic"),
    input_kind="lowres",
    output="image",
    size_budget_mb=1.0,
    train_crop=128,
    crop_align=0,
    default_lr=1e-3,
    tiny_args={"scale": 4, "channels": 4},
    late_options=("base",),
    summary="ESPCN on the low-res grid: conv 5x5/3x3/2x2 (16), residuals, pixel attention, pixel shuffle",
)
