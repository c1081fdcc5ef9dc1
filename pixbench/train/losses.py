"""Training losses: BCE for detectors, BCE + soft Dice for segmenters, L1/MSE/VGG-19 perceptual for
restorers, L1 + GAN for pix2pix.

The perceptual loss compares VGG-19 features at ``block3_conv4``, ``block4_conv1`` and
``block4_conv2`` (the layers named in the separable U-Net paper, after their ReLU as in
Keras). It needs torchvision's ImageNet file ``vgg19-dcbb9e9d.pth``, which pixbench never
downloads: without it, :class:`~pixbench.errors.WeightsNotFoundError` says where to put it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models import vgg19

from pixbench.errors import ModelError
from pixbench.weights import load_prefixed_state, locate_weights

VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
#: Indices in ``torchvision.models.vgg19().features`` of the ReLUs after block3_conv4,
#: block4_conv1 and block4_conv2 (convs sit at 16, 19, 21; each ReLU follows its conv).
VGG_LAYERS = (17, 20, 22)
RESTORER_LOSSES = ("l1", "mse", "perceptual")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def find_vgg19_weights(weights_path: str | None) -> Path:
    """Locate ``vgg19-dcbb9e9d.pth`` (given path, else the torch hub cache).

    Raises:
        WeightsNotFoundError: The file is in neither place.
    """
    return locate_weights(
        VGG19_WEIGHTS_FILE, given=weights_path, needed_for="--loss perceptual", option="--vgg-weights"
    )


class VGGPerceptualLoss(nn.Module):
    """Mean L1 distance between frozen VGG-19 features of output and target, plus pixel L1.

    Args:
        weights: Path to a torchvision VGG-19 state dict. Every ``features`` tensor up to
            ``block4_conv2`` must be present with the right shape; others are not used.
        pixel_weight: Weight of the pixel L1 term that anchors colours.
    """

    def __init__(self, weights: Path, *, pixel_weight: float = 1.0) -> None:
        super().__init__()
        features = vgg19(weights=None).features[: max(VGG_LAYERS) + 1]
        last = max(VGG_LAYERS)
        load_prefixed_state(
            features,
            weights,
            prefix="features.",
            what="torchvision VGG-19",
            keep=lambda key: int(key.split(".")[0]) <= last,
        )
        self.features = features.eval().requires_grad_(False)
        self.pixel_weight = pixel_weight
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        x = (x - self.mean) / self.std
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in VGG_LAYERS:
                out.append(x)
        return out

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.pixel_weight * F.l1_loss(output, target)
        for a, b in zip(self._taps(output), self._taps(target), strict=True):
            loss = loss + F.l1_loss(a, b)
        return loss


def restorer_loss(name: str, *, vgg_weights: str | None = None) -> nn.Module:
    """The pixel loss called ``name``: ``l1``, ``mse`` or ``perceptual``.

    Raises:
        ModelError: Unknown name.
        WeightsNotFoundError: ``perceptual`` without the VGG-19 weights file.
    """
    if name == "l1":
        return nn.L1Loss()
    if name == "mse":
        return nn.MSELoss()
    if name == "perceptual":
        return VGGPerceptualLoss(find_vgg19_weights(vgg_weights))
    raise ModelError(f"--loss {name!r}: expected one of {', '.join(RESTORER_LOSSES)}")


class MaskLoss(nn.Module):
    """Per-pixel BCE on logits plus soft Dice loss, for segmenters (``(N, 1, H, W)`` logits and {0, 1} masks).

    BCE alone is dominated by the clean pixels of a batch (most of them); the Dice term
    (Milletari et al. 2016, "V-Net") is a ratio over the mosaicked pixels and weighs a small
    region as much as a large one. It is computed over the whole batch at once, so a crop
    without any mosaic (about a quarter of them) does not give an undefined ratio; ``smooth``
    keeps an all-clean batch's Dice term at 0 when the prediction is clean too.

    Args:
        dice_weight: Weight of the Dice term (0: BCE alone).
        smooth: Added to the numerator and denominator of the Dice ratio.
    """

    def __init__(self, *, dice_weight: float = 1.0, smooth: float = 1.0) -> None:
        super().__init__()
        self.dice_weight = dice_weight
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.binary_cross_entropy_with_logits(logits, target)
        if self.dice_weight:
            prob = torch.sigmoid(logits.float())
            overlap = (prob * target).sum()
            dice = (2 * overlap + self.smooth) / (prob.sum() + target.sum() + self.smooth)
            loss = loss + self.dice_weight * (1 - dice)
        return loss


def validation_loss(output: str) -> nn.Module:
    """The loss validation reports for a model of ``output`` kind: BCE, BCE + Dice, or L1 for images."""
    if output == "logit":
        return nn.BCEWithLogitsLoss()
    if output == "mask":
        return MaskLoss()
    return nn.L1Loss()


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of PatchGAN logits against all-real or all-fake labels."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))
