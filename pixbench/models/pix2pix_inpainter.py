"""``pix2pix-inpainter``: a pix2pix U-Net generator (with its PatchGAN discriminator) for holes.

The generator reads the holed image with the hole mask as a fourth channel
(``pixbench.mask_input=channel``; 1 = hole) and returns the full RGB image, with the
known pixels copied from the input so only the holes are invented. Encoder steps are
4x4 stride-2 convolutions (LeakyReLU 0.2, BN); decoder steps upsample to the skip's
size and convolve (instead of pix2pix's transposed convolutions, which need sizes
divisible by ``2**depth``), concatenate the skip, and use ReLU, BN and dropout 0.5 on
the innermost steps. ``width`` is the channel count of the first step, so the whole
network can be made small enough to train on a CPU.

:func:`patch_discriminator` is the 70x70 PatchGAN used only during training (L1 + GAN).

``fill=True`` is an option this package adds (``docs/models.md``): before the U-Net, the
holes are filled by a push-pull pyramid (:func:`pyramid_fill`: averages of the known
pixels over ever coarser blocks, brought back up and blended by how much of each block
is known), the U-Net sees that filled image, and its output is a zero-initialised
correction added to the fill. It starts at a smooth fill and learns what the fill misses.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixbench.errors import ModelError
from pixbench.models.base import ModelSpec
from pixbench.models.layers import upsample_to

# -- blocks ----------------------------------------------------------------------------


class Down(nn.Sequential):
    """4x4 stride-2 convolution, optional BN, LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, *, norm: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(out_ch))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        super().__init__(*layers)


class Up(nn.Module):
    """Upsample to the skip's size, 3x3 conv, BN, optional dropout, ReLU, then concatenate the skip."""

    def __init__(self, in_ch: int, out_ch: int, *, dropout: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.body(upsample_to(x, skip)), skip], dim=1)


def pyramid_fill(image: torch.Tensor, known: torch.Tensor, levels: int = 8) -> torch.Tensor:
    """Fill the pixels where ``known`` is 0 from the known ones, coarse to fine (push-pull).

    Going down, each level averages the known pixels' values and the known share of 2x2
    blocks (``ceil_mode``, so any size works); coming up, a pixel takes its own level's
    average of known values where the whole block is known, and otherwise mixes it with
    the coarser fill by the unknown share. Both averages are divided by the pooled count
    of real pixels, so edge windows are exact however the runtime counts padding.
    """
    values, shares = [image * known], [known]
    for _ in range(levels):
        count = F.avg_pool2d(torch.ones_like(shares[-1]), 2, ceil_mode=True)
        values.append(F.avg_pool2d(values[-1], 2, ceil_mode=True) / count)
        shares.append(F.avg_pool2d(shares[-1], 2, ceil_mode=True) / count)
    fill = values[-1] / shares[-1].clamp_min(1e-6)
    for value, share in zip(reversed(values[:-1]), reversed(shares[:-1])):
        coarse = F.interpolate(fill, size=value.shape[-2:], mode="bilinear", align_corners=False)
        fill = value + coarse * (1.0 - share)  # value is share x (mean of the known pixels)
    return image * known + fill * (1.0 - known)


# -- model -----------------------------------------------------------------------------


class Pix2PixInpainter(nn.Module):
    """U-Net generator for inpainting; input ``(N, 4, H, W)``, output ``(N, 3, H, W)`` in [0, 1].

    Args:
        width: Channels of the first encoder step (pix2pix uses 64).
        depth: Number of stride-2 encoder steps (pix2pix uses 8 for 256x256).
        max_width: Channel cap (pix2pix uses ``8 * width``).
        fill: Fill the holes by :func:`pyramid_fill` first and learn a correction of that fill.
    """

    def __init__(self, *, width: int, depth: int, max_width: int, fill: bool = False) -> None:
        super().__init__()
        self.fill = fill
        chans = [min(width * 2**i, max_width) for i in range(depth)]
        self.downs = nn.ModuleList(
            [Down(4, chans[0], norm=False)] + [Down(chans[i - 1], chans[i]) for i in range(1, depth)]
        )
        ups = []
        in_ch = chans[-1]
        for i in reversed(range(depth - 1)):
            ups.append(Up(in_ch, chans[i], dropout=i >= depth - 4 and depth > 4))
            in_ch = chans[i] * 2
        self.ups = nn.ModuleList(ups)
        self.out = nn.Conv2d(in_ch, 3, 3, padding=1)
        if fill:  # start exactly at the fill
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fill the holes of ``x[:, :3]`` where ``x[:, 3:4]`` is 1; keep the other pixels."""
        image, mask = x[:, :3], x[:, 3:4]
        if self.fill:
            image = pyramid_fill(image, 1.0 - mask)
            x = torch.cat([image, mask], dim=1)
        skips = []
        y = x
        for down in self.downs:
            y = down(y)
            skips.append(y)
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        y = self.out(upsample_to(y, x))
        fake = (image + y).clamp(0.0, 1.0) if self.fill else (torch.tanh(y) + 1.0) / 2.0
        return image * (1.0 - mask) + fake * mask


class PatchDiscriminator(nn.Module):
    """PatchGAN: judges overlapping patches of (condition, image) pairs; returns logits per patch.

    Args:
        width: Channels of the first step (pix2pix uses 64).
        layers: Number of stride-2 steps (3 gives the 70x70 receptive field of pix2pix).
    """

    def __init__(self, *, width: int, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [Down(4 + 3, width, norm=False)]
        ch = width
        for i in range(1, layers):
            blocks.append(Down(ch, min(width * 2**i, width * 8)))
            ch = min(width * 2**i, width * 8)
        nxt = min(width * 2**layers, width * 8)
        blocks += [
            nn.Conv2d(ch, nxt, 4, padding=1, bias=False),
            nn.BatchNorm2d(nxt),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nxt, 1, 4, padding=1),
        ]
        self.net = nn.Sequential(*blocks)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([condition, image], dim=1))


# -- factory ---------------------------------------------------------------------------


def pix2pix_inpainter(width: int = 16, depth: int = 6, max_width: int = 128, fill: bool = False) -> Pix2PixInpainter:
    """Build the pix2pix U-Net inpainting generator (narrow by default, for CPU training)."""
    if width < 1 or not 2 <= depth <= 8 or max_width < width:
        raise ModelError(
            f"pix2pix-inpainter: need width >= 1, depth in 2..8, max_width >= width; "
            f"got width={width}, depth={depth}, max_width={max_width}"
        )
    return Pix2PixInpainter(width=width, depth=depth, max_width=max_width, fill=fill)


def patch_discriminator(width: int = 16) -> PatchDiscriminator:
    """Build the PatchGAN discriminator that trains with :func:`pix2pix_inpainter`."""
    if width < 1:
        raise ModelError(f"pix2pix discriminator: width must be >= 1, got {width}")
    return PatchDiscriminator(width=width)


SPEC = ModelSpec(
    name="pix2pix-inpainter",
    factory=pix2pix_inpainter,
    tasks=("inpaint",),
    input_kind="masked",
    output="image",
    size_budget_mb=20.0,
    train_crop=None,
    min_crop=64,  # six stride-2 steps at the default depth; the PatchGAN needs 32
    default_lr=2e-4,
    tiny_args={"width": 4, "depth": 3, "max_width": 8},
    discriminator=patch_discriminator,
    summary="pix2pix U-Net generator (mask as 4th channel) + PatchGAN discriminator, L1 + GAN",
)
