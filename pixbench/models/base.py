"""What every reference model declares: its task, input kind, size budget and training defaults.

A :class:`ModelSpec` is the registry entry for one model. The trainer reads it to
check that a dataset fits the model and to pick the loss and crop size; the exporter
reads it to write the ``pixbench.*`` metadata props (``docs/onnx-metadata.md``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from pixbench.errors import ModelError

#: How a model receives its input (see ``docs/models.md``):
#: ``full`` the degraded image at full size; ``lowres`` the low-resolution grid of a
#: pixelated image; ``triplet`` a 24x24 BlockCNN context block; ``masked`` the holed
#: image with the hole mask as a fourth channel.
InputKind = Literal["full", "lowres", "triplet", "masked"]
#: What a model outputs: one logit per image (``logit``), one logit per pixel (``mask``), or an image.
OutputKind = Literal["logit", "mask", "image"]


@dataclass(frozen=True)
class ModelSpec:
    """Registry entry for one reference model.

    Attributes:
        name: Registry name, also written as ``pixbench.model``.
        factory: Builds the ``nn.Module``; its keyword arguments are the model's options.
        tasks: Dataset tasks the model can be trained on.
        input_kind: How the model receives its input.
        output: ``logit`` for detectors (export appends a sigmoid and declares
            ``pixbench.output=probability``), ``mask`` for segmenters (one logit per pixel,
            ``(N, 1, H, W)``; export appends the sigmoid the same way), ``image`` for
            restorers ([0, 1] RGB).
        size_budget_mb: Largest allowed ONNX file size in MB.
        train_crop: Side of the random training crops, or ``None`` to train on whole samples.
        min_crop: Smallest training crop the architecture accepts.
        crop_align: Crop offsets are multiples of this (8 keeps the JPEG grid; ``0`` means
            "the sample's pixelation factor" so crops keep the block grid).
        default_lr: Adam learning rate used when ``--lr`` is not given.
        fixed_hw: Input height and width for models that only take one size; ``None``
            means height and width are dynamic.
        tiny_args: Options that make a very small instance, for fast tests.
        discriminator: For adversarial training, builds the discriminator from ``width``.
        summary: One line for ``--help`` and the docs.
        late_options: Options added after models were published: at their defaults they are left
            out of the recorded arguments (:meth:`recorded_args`), so earlier files and configs keep
            their metadata and hashes.
    """

    name: str
    factory: Callable[..., nn.Module]
    tasks: tuple[str, ...]
    input_kind: InputKind
    output: OutputKind
    size_budget_mb: float
    train_crop: int | None
    crop_align: int = 1
    min_crop: int = 8
    default_lr: float = 1e-3
    fixed_hw: tuple[int, int] | None = None
    tiny_args: dict[str, Any] = field(default_factory=dict)
    discriminator: Callable[..., nn.Module] | None = None
    summary: str = ""
    late_options: tuple[str, ...] = ()

    def full_args(self, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return ``args`` completed with the factory's defaults, in signature order.

        Raises:
            ModelError: An argument is not an option of this model.
        """
        args = dict(args or {})
        params = inspect.signature(self.factory).parameters
        unknown = sorted(set(args) - set(params))
        if unknown:
            raise ModelError(f"model {self.name!r} has no option {unknown[0]!r}; its options are {', '.join(params)}")
        return {k: args.get(k, p.default) for k, p in params.items()}

    def recorded_args(self, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`full_args` without the :attr:`late_options` that are at their defaults."""
        full = self.full_args(args)
        params = inspect.signature(self.factory).parameters
        return {k: v for k, v in full.items() if k not in self.late_options or v != params[k].default}

    def build(self, args: dict[str, Any] | None = None) -> nn.Module:
        """Construct the model with ``args`` (missing options take their defaults)."""
        return self.factory(**self.full_args(args))


def check_grid(model: str, grid: int, residual: bool) -> None:
    """Raise unless ``grid`` is 0 (off) or a block size 2..16 given with ``residual``."""
    if grid and not 2 <= grid <= 16:
        raise ModelError(f"{model}: grid must be 0 (the input is the base) or a block size in 2..16, got {grid}")
    if grid and not residual:
        raise ModelError(f"{model}: grid={grid} sets the base a residual output adds to: pass residual=true too")
