"""``gray-deblocker``: a residual CNN for grayscale JPEG, run on the 4x pixel-unshuffled gray plane.

The gray plane (the mean of the three equal channels a ``jpeg-gray`` sample holds) is edge-padded
to a multiple of ``unshuffle`` and folded by ``PixelUnshuffle`` into ``unshuffle**2`` channels, so
every cell is a 4x4 quarter of an 8x8 JPEG block and the body works at 1/16 of the pixels: a
3x3 stem, ``depth / 2`` residual blocks (conv 3x3, ReLU, conv 3x3, plus the identity; no
normalisation, as EDSR), a skip around them, and a 3x3 tail back to ``unshuffle**2`` channels. ``PixelShuffle`` unfolds the
correction, which is added to the input plane, cropped to the input size, repeated to three
channels and clamped to [0, 1] in evaluation (training leaves it unclamped, so no pixel loses its
gradient). The tail starts at zero, so training starts from the identity.

With the defaults (64 features, 10 body convolutions) the receptive field is 97 pixels, twelve JPEG
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


#: Each residual block's branch is scaled by this before it is added (EDSR's residual scaling), which
#: keeps the stream's scale as blocks are added and Adam's first steps from blowing it up.
RES_SCALE = 0.1


class ResidualBlock(nn.Module):
    """conv 3x3, ReLU, conv 3x3, scaled by :data:`RES_SCALE`, plus the identity (EDSR's block, no norm)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RES_SCALE * self.conv2(F.relu(self.conv1(x)))


class GrayDeblocker(nn.Module):
    """Residual CNN on the pixel-unshuffled gray plane.

    Args:
        width: Feature channels of the body.
        depth: 3x3 convolutions in the body, in residual pairs (an even number).
        unshuffle: Fold factor of the gray plane (a divisor of the 8-pixel JPEG block).
    """

    def __init__(self, *, width: int, depth: int, unshuffle: int) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        io = unshuffle * unshuffle
        self.stem = nn.Conv2d(io, width, 3, padding=1)
        self.body = nn.Sequential(*(ResidualBlock(width) for _ in range(depth // 2)))
        self.tail = nn.Conv2d(width, io, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a gray ``(N, 3, H, W)`` JPEG image in [0, 1] (three equal channels) to its restoration."""
        r = self.unshuffle
        h, w = x.shape[-2], x.shape[-1]
        gray = x.mean(dim=1, keepdim=True)
        padded = F.pad(gray, (0, (r - w % r) % r, 0, (r - h % r) % r), mode="replicate")
        features = self.stem(F.pixel_unshuffle(padded, r))
        y = F.pixel_shuffle(self.tail(features + self.body(features)), r)
        out = (padded + y)[:, :, :h, :w]
        if not self.training:  # clamped when used; in training a clamp would stop the gradient of any saturated pixel
            out = torch.clamp(out, 0.0, 1.0)
        return out.expand(-1, 3, -1, -1)


# -- factory ---------------------------------------------------------------------------


def gray_deblocker(width: int = 64, depth: int = 10, unshuffle: int = 4) -> GrayDeblocker:
    """Build the grayscale JPEG deblocker."""
    if width < 1 or depth < 0 or depth % 2:
        raise ModelError(f"gray-deblocker: need width >= 1 and an even depth >= 0, got width={width}, depth={depth}")
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
    tiny_args={"width": 4, "depth": 2},
    summary="grayscale JPEG deblocker: 3x3 residual blocks (64, 10 convs) on the 4x pixel-unshuffled gray plane",
)
