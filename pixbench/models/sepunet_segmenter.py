"""``sepunet-segmenter``: the separable U-Net as a mosaic segmenter, one logit per pixel.

The network answers the ``localize`` question, "which pixels are mosaicked?". A mosaic
is a property of small neighbourhoods (runs of equal pixels ending on a grid) judged
against a wide context (a flat sky is not a mosaic, a fence is not a grid of cells), so
the design folds pixels into channels early and spends its depth on context:

* **stem**: a convolution whose kernel and stride are ``unshuffle`` (default 8), BN and ReLU:
  the same map as ``PixelUnshuffle`` (an 8x8 patch as 192 channels) then a 1x1 convolution,
  so no layer runs at full resolution. Differences between neighbouring pixels of a patch
  are linear in its pixels, so the stem can measure the flatness of a patch exactly;
* **edge maps** (``edges=True``): the stem also reads four maps of the grey image at full
  resolution, the absolute horizontal and vertical differences of neighbours and, for each,
  how close it is to zero (``relu(1 - |d| / ZERO_STEP)``). A mosaic cell is a run of equal
  pixels that ends on its grid line, and these are the two things that say so; a linear stem
  cannot take an absolute value, so without them it must learn the same from raw pixels;
* **U-Net**: one translate block (separable conv, BN, ReLU) at the patch grid, ``depth``
  stride-2 encoders, and as many decoders (nearest upsampling to the skip's size,
  separable conv, BN, ReLU, then *add* the skip), the additive skips of
  ``sepunet-depixelator``;
* **head**: a 1x1 convolution to ``unshuffle**2`` logits per patch and ``PixelShuffle``,
  so each pixel of the ``(N, 1, H, W)`` output has its own logit; the rows and columns past
  the last whole patch repeat the nearest logits.

Export appends the sigmoid (``pixbench.output=probability``), as for the detectors.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec
from pixbench.models.layers import Decoder, SepConvBNReLU

# -- blocks ----------------------------------------------------------------------------

#: A neighbour difference this large (in [0, 1] units: 4 grey levels) counts as not zero at all.
ZERO_STEP = 4.0 / 255.0
#: Channels the edge maps add to the stem's input.
EDGE_MAPS = 4


def edge_maps(x: torch.Tensor) -> torch.Tensor:
    """Absolute neighbour differences of the grey image and their closeness to zero, ``(N, 4, H, W)``.

    The difference at pixel ``i`` is to pixel ``i + 1``; the last column (row) has none and reads 0.
    """
    grey = x.mean(dim=1, keepdim=True)
    dx = F.pad((grey[..., :, 1:] - grey[..., :, :-1]).abs(), (0, 1, 0, 0))
    dy = F.pad((grey[..., 1:, :] - grey[..., :-1, :]).abs(), (0, 0, 0, 1))
    zx = F.relu(1.0 - dx / ZERO_STEP)
    zy = F.relu(1.0 - dy / ZERO_STEP)
    return torch.cat([dx, dy, zx, zy], dim=1)


# -- model -----------------------------------------------------------------------------


class SepUNetSegmenter(nn.Module):
    """Separable U-Net on the pixel-unshuffled image, returning one logit per input pixel.

    Args:
        width: Channels at the patch grid; encoder ``i`` has ``width * 2**(i+1)``, capped at ``max_width``.
        max_width: Largest number of channels in any block.
        depth: Number of stride-2 encoders (and decoders).
        unshuffle: Side of the patch folded into channels by the stem.
        edges: Feed the stem the :func:`edge_maps` beside the RGB pixels.
    """

    def __init__(self, *, width: int, max_width: int, depth: int, unshuffle: int, edges: bool = False) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        self.edges = edges
        chans = [width] + [min(width * 2 ** (i + 1), max_width) for i in range(depth)]
        # a unshuffle x unshuffle convolution with that stride is PixelUnshuffle then a 1x1 convolution,
        # without the 6-D transpose that costs onnxruntime more than the whole network at 1080p
        self.stem = nn.Sequential(
            nn.Conv2d(3 + EDGE_MAPS * edges, width, unshuffle, stride=unshuffle),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.translate = SepConvBNReLU(width, width)
        self.encoders = nn.ModuleList(SepConvBNReLU(chans[i], chans[i + 1], stride=2) for i in range(depth))
        # decoder i brings level i+1 back to level i, whose skip it adds
        self.decoders = nn.ModuleList(Decoder(chans[i + 1], chans[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(width, unshuffle * unshuffle, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 3, H, W)`` RGB in [0, 1] to ``(N, 1, H, W)`` logits of "this pixel is mosaicked"."""
        h, w = x.shape[-2], x.shape[-1]
        stem_in = torch.cat([x, edge_maps(x)], dim=1) if self.edges else x
        skips = [self.translate(self.stem(stem_in))]
        for enc in self.encoders:
            skips.append(enc(skips[-1]))
        y = skips.pop()
        for dec in self.decoders:
            y = dec(y, skips.pop())
        y = F.pixel_shuffle(self.head(y), self.unshuffle)
        # the last h % r rows and w % r columns (no whole patch) repeat the nearest logits: padding the
        # one-channel output is cheaper than padding the three-channel input
        return F.pad(y, (0, w - y.shape[-1], 0, h - y.shape[-2]), mode="replicate")


# -- factory ---------------------------------------------------------------------------


def sepunet_segmenter(
    width: int = 16, max_width: int = 64, depth: int = 4, unshuffle: int = 8, edges: bool = False
) -> SepUNetSegmenter:
    """Build the separable U-Net segmenter (about 30k parameters at the defaults; ``edges``: the edge maps)."""
    if width < 1 or max_width < width:
        raise ModelError(f"sepunet-segmenter: need 1 <= width <= max_width, got width={width}, max_width={max_width}")
    if not 1 <= depth <= 6:
        raise ModelError(f"sepunet-segmenter: depth must be in 1..6, got {depth}")
    if not 1 <= unshuffle <= 16:
        raise ModelError(f"sepunet-segmenter: unshuffle must be in 1..16, got {unshuffle}")
    return SepUNetSegmenter(width=width, max_width=max_width, depth=depth, unshuffle=unshuffle, edges=bool(edges))


SPEC = ModelSpec(
    name="sepunet-segmenter",
    factory=sepunet_segmenter,
    tasks=("localize",),
    input_kind="full",
    output="mask",
    size_budget_mb=5.0,
    train_crop=256,
    min_crop=16,  # at least one whole patch at the largest unshuffle
    default_lr=2e-3,
    tiny_args={"width": 4, "max_width": 8, "depth": 2, "unshuffle": 4},
    late_options=("edges",),
    summary="separable U-Net segmenter (8x8 pixel-unshuffle stem, 4 encoders, additive-skip decoders, logit per pixel)",
)
