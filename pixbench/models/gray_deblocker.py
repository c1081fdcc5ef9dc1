"""``gray-deblocker``: a residual CNN for grayscale JPEG, run on the 4x pixel-unshuffled gray plane.

The gray plane (the mean of the three equal channels a ``jpeg-gray`` sample holds) is edge-padded
to a multiple of ``unshuffle`` and folded by ``PixelUnshuffle`` into ``unshuffle**2`` channels, so
every cell is a 4x4 quarter of an 8x8 JPEG block and the body works at 1/16 of the pixels: a
3x3 stem, ``depth`` 3x3 convolutions with ReLU (no normalisation, as EDSR and DnCNN's successors
for restoration), and a 3x3 tail back to ``unshuffle**2`` channels. ``PixelShuffle`` unfolds the
correction, which is added to the input plane, cropped to the input size, repeated to three
channels and clamped to [0, 1]. The tail starts at zero, so training starts from the identity.

With the defaults (64 features, 10 body layers) the receptive field is 97 pixels, twelve JPEG
blocks across, at about 25 k multiply-adds per pixel: the context a q10 image needs, at a cost that
trains in minutes on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec

# -- model -----------------------------------------------------------------------------


class GrayDeblocker(nn.Module):
    """Residual CNN on the pixel-unshuffled gray plane.

    Args:
        width: Feature channels of the body.
        depth: 3x3 convolutions (with ReLU) between the stem and the tail.
        unshuffle: Fold factor of the gray plane (a divisor of the 8-pixel JPEG block).
    """

    def __init__(self, *, width: int, depth: int, unshuffle: int) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        io = unshuffle * unshuffle
        layers: list[nn.Module] = [nn.Conv2d(io, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.tail = nn.Conv2d(width, io, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a gray ``(N, 3, H, W)`` JPEG image in [0, 1] (three equal channels) to its restoration."""
        r = self.unshuffle
        h, w = x.shape[-2], x.shape[-1]
        gray = x.mean(dim=1, keepdim=True)
        padded = F.pad(gray, (0, (r - w % r) % r, 0, (r - h % r) % r), mode="replicate")
        y = F.pixel_shuffle(self.tail(self.body(F.pixel_unshuffle(padded, r))), r)
        out = (padded + y)[:, :, :h, :w]
        return torch.clamp(out, 0.0, 1.0).expand(-1, 3, -1, -1)


# -- factory ---------------------------------------------------------------------------


def gray_deblocker(width: int = 64, depth: int = 10, unshuffle: int = 4) -> GrayDeblocker:
    """Build the grayscale JPEG deblocker."""
    if width < 1 or depth < 0:
        raise ModelError(f"gray-deblocker: need width >= 1 and depth >= 0, got width={width}, depth={depth}")
    if unshuffle not in (1, 2, 4, 8):
        raise ModelError(f"gray-deblocker: unshuffle must divide the 8-pixel block (1, 2, 4 or 8), got {unshuffle}")
    return GrayDeblocker(width=width, depth=depth, unshuffle=unshuffle)


SPEC = ModelSpec(
    name="gray-deblocker",
    factory=gray_deblocker,
    tasks=("jpeg-gray",),
    input_kind="full",
    output="image",
    size_budget_mb=2.0,
    train_crop=96,
    crop_align=8,
    default_lr=1e-3,
    tiny_args={"width": 4, "depth": 1},
    summary="grayscale JPEG deblocker: 3x3 residual CNN (64, 10 layers) on the 4x pixel-unshuffled gray plane",
)
