"""The grid upscaler's options and the settings of the published graphs, without torch.

:class:`UpscalerConfig` is recorded in every ``grid-upscaler-x*.onnx`` file as
``pixbench.model_args``; reading it back (:mod:`pixbench.forensics.depixelate`)
must work on the core install, so it lives apart from the torch network in
:mod:`pixbench.forensics.upscaler`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class UpscalerConfig:
    """Every option of :class:`~pixbench.forensics.upscaler.GridUpscaler` (recorded in the ONNX file as ``pixbench.model_args``).

    Attributes:
        scale: Pixelation factor ``s`` (2..16).
        channels: Feature channels of the hidden convolutions.
        layers: Hidden 3x3 convolutions after the first one.
    """

    scale: int
    channels: int = 16
    layers: int = 2

    def __post_init__(self) -> None:
        if not 2 <= self.scale <= 16:
            raise ValueError(f"scale: expected an integer in 2..16, got {self.scale!r}")
        if self.channels < 1 or self.layers < 0:
            raise ValueError(f"channels, layers: expected >= 1 and >= 0, got {self.channels}, {self.layers}")

    @property
    def cell(self) -> int:
        """``G``: output pixels per network pixel along each axis."""
        return self.scale * (4 // self.scale) if self.scale < 4 else self.scale

    @property
    def pack(self) -> int:
        """Low-res pixels packed into one network pixel along each axis (``G / s``)."""
        return self.cell // self.scale

    def as_dict(self) -> dict:
        return asdict(self)

    def macs(self, height: int = 1080, width: int = 1920) -> int:
        """Multiply-accumulates of the ONNX graph's convolutions for one ``height x width`` output.

        Counts the ``u`` channels the graph carries through every layer (see
        :class:`~pixbench.forensics.upscaler.GridUpscaler`).
        """
        cin, wide = 3 * self.pack ** 2, self.channels + 3 * self.pack ** 2
        per_cell = 9 * cin * wide + self.layers * 9 * wide * wide + wide * 3 * self.cell ** 2
        return (height // self.cell) * (width // self.cell) * per_cell


@dataclass(frozen=True)
class PublishedSettings:
    """How one published ``grid-upscaler-x{s}.onnx`` was trained.

    Attributes:
        config: Network options.
        size: Training crop side in output pixels.
        steps: Adam steps.
    """

    config: UpscalerConfig
    size: int
    steps: int


#: Published settings per factor. Features plus carried grid channels make 32, a multiple of the
#: 16-float blocks onnxruntime's NCHWc convolutions use on AVX-512: at 1080p such a graph measured
#: as fast as a 1-GMAC one of 19 channels (docs/detector.md).
PUBLISHED: dict[int, PublishedSettings] = {
    2: PublishedSettings(UpscalerConfig(scale=2, channels=20, layers=1), 96, 20000),
    4: PublishedSettings(UpscalerConfig(scale=4, channels=29, layers=2), 96, 36000),
    8: PublishedSettings(UpscalerConfig(scale=8, channels=29, layers=3), 128, 20000),
}
