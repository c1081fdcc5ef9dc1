"""``grid-upscaler``: a small network on the low-resolution grid whose output keeps the known block means.

A box-down / nearest-up pixelation keeps exactly one number per ``s x s`` block
and colour: the block mean (rounded). The upscaler therefore predicts, for each
low-res pixel, the ``s x s`` sub-pixels of its block, and its output is forced
to have the known block means: whatever the layers predict, the mean of each
predicted block is removed and the low-res value added back (one exact
back-projection step, Irani and Peleg 1991; for a box average one step is
enough because ``avgpool_s(nearest_up_s(x)) == x``).

The network runs at ``1/G`` of the output size with ``G = s * pack``: for ``s = 2``
the low-res grid is first packed 2x2 into channels (pixel unshuffle, ``pack = 2``),
so a 1080p frame costs about the same at every factor. The output leaves the
network as ``3 G^2`` channels and becomes full size by a pixel shuffle, in the
manner of ESPCN (Shi et al. 2016).

Exported by ``pixbench export`` it is a ``lowres`` model like ``espcn``. The published
``grid-upscaler-x{s}.onnx`` graphs are the same network written node by node instead
(:mod:`pixbench.forensics.upscaler_onnx`): the back-projection and the nearest base are
folded into the last convolution, and the graph reads the full-size pixelated image.
Their options are :class:`pixbench.forensics.UpscalerConfig`, which computes ``pack``
and ``cell`` as this model does, without torch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec

# -- blocks ----------------------------------------------------------------------------


def nearest_up(x: torch.Tensor, s: int) -> torch.Tensor:
    """Replicate every pixel into an ``s x s`` block."""
    return x.repeat_interleave(s, dim=2).repeat_interleave(s, dim=3)


# -- model -----------------------------------------------------------------------------


class GridUpscaler(nn.Module):
    """Low-res grid ``(N, 3, h, w)`` in [0, 1] -> ``(N, 3, h s, w s)`` with exact block means.

    Every convolution sees the (packed) low-res grid ``u`` beside the features,
    so the last one can add the low-res values back exactly. In the ONNX graph
    ``u`` rides along as extra channels of each layer (an identity tap; pixel
    values are never negative, so the ReLU leaves them untouched), which saves
    the separate skip path, its Add and a Clip pass at full size. When ``h`` or
    ``w`` is not a multiple of :attr:`pack`, the grid is edge-padded to one and
    the output cut back.

    Args:
        scale: Pixelation factor ``s``.
        channels: Feature channels of the hidden convolutions.
        layers: Hidden 3x3 convolutions after the first one.
        packing: Low-res pixels packed into one network pixel along each axis; 0 chooses
            2 for x2 and 1 from x4 up.
    """

    def __init__(self, *, scale: int, channels: int, layers: int, packing: int) -> None:
        super().__init__()
        self.scale, self.channels, self.layers, self.packing = scale, channels, layers, packing
        #: Low-res pixels per network pixel along each axis, and output pixels per network pixel.
        self.pack = packing or max(1, 4 // scale)
        self.cell = scale * self.pack
        cin = 3 * self.pack**2
        self.first = nn.Conv2d(cin, channels, 3, padding=1)
        self.hidden = nn.ModuleList(nn.Conv2d(channels + cin, channels, 3, padding=1) for _ in range(layers))
        self.last = nn.Conv2d(channels + cin, 3 * self.cell**2, 1)
        nn.init.zeros_(self.last.weight)  # start as the pixelated input itself (nearest)
        nn.init.zeros_(self.last.bias)

    @property
    def options(self) -> dict[str, Any]:
        """The factory's options this model was built with."""
        return {"scale": self.scale, "channels": self.channels, "layers": self.layers, "packing": self.packing}

    def raw(self, low: torch.Tensor) -> torch.Tensor:
        """The unconstrained prediction ``(N, 3 G^2, h/pack, w/pack)`` before back-projection."""
        u = F.pixel_unshuffle(low, self.pack) if self.pack > 1 else low
        f = F.relu(self.first(u))
        for conv in self.hidden:
            f = F.relu(conv(torch.cat([f, u], 1)))
        return self.last(torch.cat([f, u], 1))

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        s, p = self.scale, self.pack
        h, w = low.shape[-2], low.shape[-1]
        if p > 1:  # edge-pad to whole network pixels; the output is cut back below
            low = F.pad(low, (0, (p - w % p) % p, 0, (p - h % p) % p), mode="replicate")
        out = F.pixel_shuffle(self.raw(low), self.cell)
        # back-projection: replace each block's mean by the known low-res value
        out = out - nearest_up(F.avg_pool2d(out, s), s) + nearest_up(low, s)
        out = torch.clamp(out, 0.0, 1.0)
        return out[:, :, : h * s, : w * s] if p > 1 else out


# -- factory ---------------------------------------------------------------------------


def grid_upscaler(scale: int = 4, channels: int = 16, layers: int = 2, packing: int = 0) -> GridUpscaler:
    """Build the grid upscaler for one pixelation factor."""
    if not 2 <= scale <= 16:
        raise ModelError(f"grid-upscaler: scale must be in 2..16, got {scale}")
    if channels < 1 or layers < 0:
        raise ModelError(f"grid-upscaler: channels must be >= 1 and layers >= 0, got {channels} and {layers}")
    if packing not in (0, 1, 2, 4):
        raise ModelError(f"grid-upscaler: packing must be 0 (automatic), 1, 2 or 4, got {packing}")
    return GridUpscaler(scale=scale, channels=channels, layers=layers, packing=packing)


SPEC = ModelSpec(
    name="grid-upscaler",
    factory=grid_upscaler,
    tasks=("depixelate",),
    input_kind="lowres",
    output="image",
    size_budget_mb=2.0,
    train_crop=128,
    crop_align=0,
    default_lr=2e-3,
    tiny_args={"scale": 4, "channels": 4, "layers": 1},
    summary="grid upscaler on the low-res grid: 3x3 convs beside the grid, pixel shuffle, exact block means",
)
