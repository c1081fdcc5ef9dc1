"""Reference models: one file per model (blocks, model, factory) and the ``MODELS`` registry.

Each file ends with a :class:`~pixbench.models.base.ModelSpec` named ``SPEC``; they are
registered here, explicitly, in the order ``pixbench train --help`` lists them.
"""

from __future__ import annotations

from pixbench.models import (
    blockcnn,
    espcn,
    gray_deblocker,
    grid_upscaler,
    mobilenetv2_classifier,
    pix2pix_inpainter,
    sepunet_depixelator,
    sepunet_detector,
    sepunet_restorer,
    sepunet_segmenter,
)
from pixbench.models.base import InputKind, ModelSpec, OutputKind
from pixbench.registry import Registry

MODELS: Registry[ModelSpec] = Registry("model")
for _module in (
    sepunet_detector,
    sepunet_segmenter,
    sepunet_depixelator,
    mobilenetv2_classifier,
    sepunet_restorer,
    espcn,
    grid_upscaler,
    blockcnn,
    gray_deblocker,
    pix2pix_inpainter,
):
    MODELS.register(_module.SPEC.name, _module.SPEC)

__all__ = ["MODELS", "InputKind", "ModelSpec", "OutputKind"]
