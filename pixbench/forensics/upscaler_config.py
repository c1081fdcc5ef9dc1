"""The grid upscaler's options and the settings of the published graphs, without torch.

:class:`UpscalerConfig` is recorded in every ``grid-upscaler-x*.onnx`` file as
``pixbench.model_args``; reading it back (:mod:`pixbench.forensics.depixelate`)
must work on the core install, so it lives apart from the torch network, the
registry's ``grid-upscaler`` (:mod:`pixbench.models.grid_upscaler`). Its options are
the same, and it computes :attr:`~UpscalerConfig.pack` and :attr:`~UpscalerConfig.cell`
the same way (``tests/test_forensics_depixelate.py`` checks that the two agree).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class UpscalerConfig:
    """Every option of the grid upscaler network (recorded in the ONNX file as ``pixbench.model_args``).

    The network is :class:`~pixbench.models.grid_upscaler.GridUpscaler`, the registry's ``grid-upscaler``.

    Attributes:
        scale: Pixelation factor ``s`` (2..16).
        channels: Feature channels of the hidden convolutions.
        layers: Hidden 3x3 convolutions after the first one.
        packing: Low-res pixels packed into one network pixel along each axis (pixel unshuffle);
            0 chooses it from the factor (2 for x2, 1 from x4 up), so the network runs at 1/4 or
            1/8 of the output size. Packing more trades resolution for width: 2 at x4 runs the
            network at 1/8, with four times the positions' worth of channels to spend.
    """

    scale: int
    channels: int = 16
    layers: int = 2
    packing: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.scale <= 16:
            raise ValueError(f"scale: expected an integer in 2..16, got {self.scale!r}")
        if self.channels < 1 or self.layers < 0:
            raise ValueError(f"channels, layers: expected >= 1 and >= 0, got {self.channels}, {self.layers}")
        if self.packing not in (0, 1, 2, 4):
            raise ValueError(f"packing: expected 0 (automatic), 1, 2 or 4, got {self.packing!r}")

    @property
    def pack(self) -> int:
        """Low-res pixels packed into one network pixel along each axis (:attr:`packing`, or its automatic value)."""
        return self.packing or max(1, 4 // self.scale)

    @property
    def cell(self) -> int:
        """``G``: output pixels per network pixel along each axis (``s`` times :attr:`pack`)."""
        return self.scale * self.pack

    def as_dict(self) -> dict:
        """The options as recorded in ``pixbench.model_args`` (``packing`` only when set)."""
        d = asdict(self)
        if not self.packing:
            del d["packing"]
        return d

    def macs(self, height: int = 1080, width: int = 1920) -> int:
        """Multiply-accumulates of the ONNX graph's convolutions for one ``height x width`` output.

        Counts the ``u`` channels the graph carries through every layer (see
        :class:`~pixbench.models.grid_upscaler.GridUpscaler`).
        """
        cin, wide = 3 * self.pack**2, self.channels + 3 * self.pack**2
        per_cell = 9 * cin * wide + self.layers * 9 * wide * wide + wide * 3 * self.cell**2
        return (height // self.cell) * (width // self.cell) * per_cell


@dataclass(frozen=True)
class PublishedSettings:
    """How one published grid upscaler graph was trained (``tools/train_depixelators.py``).

    Attributes:
        config: Network options.
        size: Training crop side in output pixels.
        steps: Adam steps.
        batch: Crops per step.
        lr: Peak learning rate of the one-cycle schedule.
        mse_tail: Fraction of the steps, at the end, trained on the squared error instead of L1.
    """

    config: UpscalerConfig
    size: int
    steps: int
    batch: int = 32
    lr: float = 2e-3
    mse_tail: float = 0.0


#: Published settings per factor of the real-time tier (``grid-upscaler-x{s}.onnx``). Features plus
#: carried grid channels make 32, a multiple of the 16-float blocks onnxruntime's NCHWc convolutions
#: use on AVX-512: at 1080p such a graph measured as fast as a 1-GMAC one of 19 channels (docs/detector.md).
PUBLISHED: dict[int, PublishedSettings] = {
    2: PublishedSettings(UpscalerConfig(scale=2, channels=20, layers=1), 96, 20000),
    4: PublishedSettings(UpscalerConfig(scale=4, channels=29, layers=2), 96, 36000),
    8: PublishedSettings(UpscalerConfig(scale=8, channels=29, layers=3), 128, 20000),
}

#: Published settings of the quality tier (``grid-upscaler-hq-x{s}.onnx``): the same kind of network,
#: wide and deep enough to spend about one second per 1080p frame on a 2-core CPU. At x2 the network
#: runs on 2x2-packed cells (12 carried channels), so 52 features make the same 64 channels as x4's 61.
PUBLISHED_HQ: dict[int, PublishedSettings] = {
    2: PublishedSettings(UpscalerConfig(scale=2, channels=52, layers=8), 96, 10000, batch=16, lr=1e-3, mse_tail=0.2),
    4: PublishedSettings(UpscalerConfig(scale=4, channels=61, layers=8), 96, 16000, batch=16, lr=1e-3, mse_tail=0.2),
}

#: Tiers of the depixelation frontier: file-name stem and settings per factor.
TIERS: dict[str, tuple[str, dict[int, PublishedSettings]]] = {
    "realtime": ("grid-upscaler", PUBLISHED),
    "quality": ("grid-upscaler-hq", PUBLISHED_HQ),
}
