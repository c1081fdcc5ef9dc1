"""``mobilenetv2-classifier``: the MobileNetV2 pixelation classifier of the MobileNetV2 pipeline.

torchvision's MobileNetV2 ``features``, global average pooling, a dense layer of 128
units with BN and dropout 0.5, then one output (a logit; export appends the sigmoid).
The seed resized every image to 128x128; the model does that resize itself
(``input_size``), so the exported ONNX file takes any size and behaves as trained.
ImageNet weights are optional and never downloaded: ``pretrained=True`` reads the
torchvision file ``mobilenet_v2-b0353104.pth`` from the torch hub cache or ``weights_path``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models import mobilenet_v2

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec
from pixbench.weights import load_prefixed_state, locate_weights

#: File name torchvision uses for the ImageNet MobileNetV2 weights (``MobileNet_V2_Weights.IMAGENET1K_V1``).
IMAGENET_WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

# -- blocks ----------------------------------------------------------------------------


def find_imagenet_weights(weights_path: str | None) -> Path:
    """Locate the ImageNet MobileNetV2 weights file, or explain where to put it.

    Raises:
        WeightsNotFoundError: Neither ``weights_path`` nor the torch hub cache holds the file.
    """
    return locate_weights(
        IMAGENET_WEIGHTS_FILE, given=weights_path, needed_for="pretrained=True", option="--weights-path"
    )


def load_imagenet_features(features: nn.Module, path: Path) -> None:
    """Load the ``features.*`` tensors of a torchvision MobileNetV2 state dict, strictly.

    The classifier tensors of the ImageNet file are not used; every feature tensor must be
    present with the right shape, otherwise this raises rather than keeping random weights.
    """
    load_prefixed_state(features, path, prefix="features.", what="MobileNetV2 (width_mult=1.0)")


# -- model -----------------------------------------------------------------------------


class MobileNetV2Classifier(nn.Module):
    """MobileNetV2 features with a small binary head; returns ``(N, 1)`` logits.

    Args:
        input_size: Side the input is resized to (bilinear) before the backbone; 0 keeps it.
        width_mult: MobileNetV2 width multiplier (ImageNet weights exist only for 1.0).
        freeze_depth: Number of leading ``features`` blocks whose weights are frozen and
            whose BatchNorm stays in inference mode, as in the seed's fine-tuning.
    """

    def __init__(self, *, input_size: int, width_mult: float, freeze_depth: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.features = mobilenet_v2(weights=None, width_mult=width_mult).features
        self.freeze_depth = freeze_depth
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        last = self.features[-1][0].out_channels
        self.head = nn.Sequential(
            nn.Linear(last, 128), nn.ReLU(inplace=True), nn.BatchNorm1d(128), nn.Dropout(0.5), nn.Linear(128, 1)
        )
        for block in self.features[:freeze_depth]:
            block.requires_grad_(False)

    def train(self, mode: bool = True) -> MobileNetV2Classifier:
        super().train(mode)
        for block in self.features[: self.freeze_depth]:
            block.eval()  # frozen BN statistics must not drift
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 3, H, W)`` RGB in [0, 1] to ``(N, 1)`` logits."""
        if self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        x = self.features((x - self.mean) / self.std)
        return self.head(x.mean(dim=(2, 3)))


# -- factory ---------------------------------------------------------------------------


def mobilenetv2_classifier(
    input_size: int = 128,
    width_mult: float = 1.0,
    freeze_depth: int = 0,
    pretrained: bool = False,
    weights_path: str | None = None,
) -> MobileNetV2Classifier:
    """Build the MobileNetV2 classifier, optionally from local ImageNet weights.

    Raises:
        WeightsNotFoundError: ``pretrained`` is set and the weights file is missing.
    """
    if input_size < 0 or (0 < input_size < 32):
        raise ModelError(f"mobilenetv2-classifier: input_size must be 0 (keep) or >= 32, got {input_size}")
    if not 0 <= freeze_depth <= 19:
        raise ModelError(f"mobilenetv2-classifier: freeze_depth must be in 0..19 (features blocks), got {freeze_depth}")
    if pretrained and width_mult != 1.0:
        raise ModelError(f"mobilenetv2-classifier: ImageNet weights exist only for width_mult=1.0, got {width_mult}")
    model = MobileNetV2Classifier(input_size=input_size, width_mult=width_mult, freeze_depth=freeze_depth)
    if pretrained:
        load_imagenet_features(model.features, find_imagenet_weights(weights_path))
    return model


SPEC = ModelSpec(
    name="mobilenetv2-classifier",
    factory=mobilenetv2_classifier,
    tasks=("detect",),
    input_kind="full",
    output="logit",
    size_budget_mb=12.0,
    train_crop=None,
    default_lr=1e-3,
    tiny_args={"input_size": 32, "width_mult": 0.25},
    summary="torchvision MobileNetV2 features + GAP + dense 128/BN/dropout 0.5 + 1 output; resizes to input_size",
)
