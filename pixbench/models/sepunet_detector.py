"""``sepunet-detector``: the separable-convolution pixelation detector of the separable U-Net paper.

Two translate-encoder blocks (separable conv, stride 1, BN, ReLU) keep full resolution,
six encoder blocks (stride 2) shrink it 64-fold, then a global max-pool, flatten and two
dense layers give one logit for p(pixelated). The paper pools a 256x256 crop; a
*global* max-pool gives the same result there and also accepts any other size.
``unshuffle=r`` (default 1, the paper's network) folds ``r x r`` pixels into channels
first (``PixelUnshuffle``), so no block runs at full resolution: the 1080p speed option.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec
from pixbench.models.layers import SepConvBNReLU

# -- blocks: SepConvBNReLU (pixbench.models.layers) ------------------------------------


# -- model -----------------------------------------------------------------------------


class SepUNetDetector(nn.Module):
    """Separable-convolution classifier returning one logit per image.

    Args:
        width: Channels of the translate encoders; encoder ``i`` has ``width * 2**(i+1)``
            channels, capped at ``max_width``.
        max_width: Largest number of channels in any encoder.
        hidden: Units of the first dense layer.
        unshuffle: Fold ``unshuffle x unshuffle`` pixels into channels before the first block.
    """

    def __init__(self, *, width: int, max_width: int, hidden: int, unshuffle: int) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        chans = [min(width * 2 ** (i + 1), max_width) for i in range(6)]
        layers: list[nn.Module] = [SepConvBNReLU(3 * unshuffle * unshuffle, width), SepConvBNReLU(width, width)]
        prev = width
        for ch in chans:
            layers.append(SepConvBNReLU(prev, ch, stride=2))
            prev = ch
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(prev, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 3, H, W)`` RGB in [0, 1] to ``(N, 1)`` logits."""
        r = self.unshuffle
        if r > 1:  # pad to a multiple of r (replicating the edge), then fold pixels into channels
            h, w = x.shape[-2], x.shape[-1]
            x = F.pixel_unshuffle(F.pad(x, (0, (r - w % r) % r, 0, (r - h % r) % r), mode="replicate"), r)
        return self.head(self.pool(self.features(x)))


# -- factory ---------------------------------------------------------------------------


def sepunet_detector(width: int = 8, max_width: int = 256, hidden: int = 64, unshuffle: int = 1) -> SepUNetDetector:
    """Build the separable U-Net pixelation detector (a few hundred kB at the defaults)."""
    for name, value in (("width", width), ("max_width", max_width), ("hidden", hidden), ("unshuffle", unshuffle)):
        if value < 1:
            raise ModelError(f"sepunet-detector: {name} must be >= 1, got {value}")
    return SepUNetDetector(width=width, max_width=max_width, hidden=hidden, unshuffle=unshuffle)


SPEC = ModelSpec(
    name="sepunet-detector",
    factory=sepunet_detector,
    tasks=("detect",),
    input_kind="full",
    output="logit",
    size_budget_mb=10.0,
    train_crop=None,
    default_lr=1e-3,
    tiny_args={"width": 4, "max_width": 16, "hidden": 8, "unshuffle": 2},
    summary="separable-conv pixelation detector (2 translate + 6 stride-2 encoders, max-pool, 2 dense)",
)
