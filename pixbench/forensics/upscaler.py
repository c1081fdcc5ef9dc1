"""The grid upscaler: a small network that works on the low-resolution grid only.

A box-down / nearest-up pixelation keeps exactly one number per ``s x s`` block
and colour: the block mean (rounded). The upscaler therefore predicts, for each
low-res pixel, the ``s x s`` sub-pixels of its block, and its output is forced
to have the known block means: whatever the layers predict, the mean of each
predicted block is removed and the low-res value added back (one exact
back-projection step, Irani and Peleg 1991; for a box average one step is
enough because ``avgpool_s(nearest_up_s(x)) == x``). All of that is linear, so
in the ONNX graph it is folded into the last convolution's weights (see
:mod:`pixbench.forensics.upscaler_onnx`) and costs nothing at run time.

The network runs at ``1/G`` of the output size with ``G = max(s, 4)``: for
``s = 2`` the low-res grid is first packed 2x2 into channels (pixel unshuffle),
so a 1080p frame costs about the same at every factor. The output leaves the
network as ``3 G^2`` channels and becomes full size by a pixel shuffle
(DepthToSpace), in the manner of ESPCN (Shi et al. 2016).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as TF

from pixbench.forensics.upscaler_config import UpscalerConfig
from pixbench.images import atomic_output
from pixbench.progress import Progress, silent


class GridUpscaler(nn.Module):
    """Low-res grid ``(N, 3, h, w)`` in [0, 1] -> ``(N, 3, h s, w s)`` with exact block means.

    Every convolution sees the (packed) low-res grid ``u`` beside the features,
    so the last one can add the low-res values back exactly. In the ONNX graph
    ``u`` rides along as extra channels of each layer (an identity tap; pixel
    values are never negative, so the ReLU leaves them untouched), which saves
    the separate skip path, its Add and a Clip pass at full size.
    ``h`` and ``w`` must be multiples of :attr:`UpscalerConfig.pack`.
    """

    def __init__(self, config: UpscalerConfig) -> None:
        super().__init__()
        self.config = config
        c, g, cin = config.channels, config.cell, 3 * config.pack**2
        self.first = nn.Conv2d(cin, c, 3, padding=1)
        self.hidden = nn.ModuleList(nn.Conv2d(c + cin, c, 3, padding=1) for _ in range(config.layers))
        self.last = nn.Conv2d(c + cin, 3 * g * g, 1)
        nn.init.zeros_(self.last.weight)  # start as the pixelated input itself (nearest)
        nn.init.zeros_(self.last.bias)

    def raw(self, low: torch.Tensor) -> torch.Tensor:
        """The unconstrained prediction ``(N, 3 G^2, h/pack, w/pack)`` before back-projection."""
        u = TF.pixel_unshuffle(low, self.config.pack) if self.config.pack > 1 else low
        f = TF.relu(self.first(u))
        for conv in self.hidden:
            f = TF.relu(conv(torch.cat([f, u], 1)))
        return self.last(torch.cat([f, u], 1))

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        s = self.config.scale
        out = TF.pixel_shuffle(self.raw(low), self.config.cell)
        # back-projection: replace each block's mean by the known low-res value
        out = out - nearest_up(TF.avg_pool2d(out, s), s) + nearest_up(low, s)
        return torch.clamp(out, 0.0, 1.0)


def nearest_up(x: torch.Tensor, s: int) -> torch.Tensor:
    """Replicate every pixel into an ``s x s`` block."""
    return x.repeat_interleave(s, dim=2).repeat_interleave(s, dim=3)


# ---------------------------------------------------------------------------------------------
# Training


class CropSampler:
    """Random (low-res, clean) crop pairs with the ``depixelate-nearest`` degradation.

    The low-res grid is the box mean of every ``s x s`` block rounded to 8 bits
    (``torch.round``, half to even); crops are flipped and rotated at random.
    This is computed in torch on each batch, not with
    :func:`pixbench.degradations.downscale`: Pillow's box filter, which the
    recipes use, rounds after each of its two passes and so differs by 1 on
    some pixels, and the published graphs were trained on these values.
    """

    def __init__(self, images: list[np.ndarray], *, scale: int, size: int, seed: int) -> None:
        usable = [im for im in images if min(im.shape[:2]) >= size]
        if not usable:
            raise ValueError(f"images: none is at least {size}x{size} pixels, the training crop size")
        self.images = [torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1) for im in usable]
        self.scale, self.size = scale, size
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        crops = []
        for _ in range(n):
            im = self.images[int(self.rng.integers(len(self.images)))]
            y = int(self.rng.integers(0, im.shape[1] - self.size + 1))
            x = int(self.rng.integers(0, im.shape[2] - self.size + 1))
            c = im[:, y : y + self.size, x : x + self.size]
            if self.rng.random() < 0.5:
                c = c.flip(2)
            crops.append(torch.rot90(c, int(self.rng.integers(4)), (1, 2)))
        hr = torch.stack(crops).float()
        low = torch.round(TF.avg_pool2d(hr, self.scale))
        return low / 255.0, hr / 255.0


def train_upscaler(
    images: list[np.ndarray],
    config: UpscalerConfig,
    *,
    steps: int,
    batch: int = 16,
    size: int | None = None,
    lr: float = 2e-3,
    mse_tail: float = 0.0,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    progress: Progress = silent,
) -> GridUpscaler:
    """Train a :class:`GridUpscaler` with L1 loss, Adam and a one-cycle learning-rate schedule.

    Args:
        images: ``HxWx3 uint8`` training photos (never the test sources).
        config: Network options.
        steps: Optimiser steps.
        batch: Crops per step.
        size: Crop side in output pixels (default ``8 G``, clipped to at least 64).
        lr: Peak learning rate.
        mse_tail: Fraction of the steps, at the end, trained on the squared error instead of L1
            (PSNR is a squared-error measure; L1 trains faster at first).
        seed: Seeds torch and the crop sampler.
        checkpoint: A file where model, optimiser, schedule and sampler state are saved every
            ``checkpoint_every`` steps (atomically); when it exists, training resumes from it,
            and the result is the same as an uninterrupted run's.
        progress: Called as ``progress("train x{s}", steps done, steps, loss=loss of the batch)`` after every step.
    """
    torch.manual_seed(seed)
    g = config.cell
    size = size or max(64, 8 * g)
    if size % g:
        raise ValueError(f"size: expected a multiple of {g} (the network cell), got {size}")
    if not 0.0 <= mse_tail <= 1.0:
        raise ValueError(f"mse_tail: expected a fraction in [0, 1], got {mse_tail!r}")
    sampler = CropSampler(images, scale=config.scale, size=size, seed=seed)
    model = GridUpscaler(config)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    first = 0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != config.as_dict() or state["steps"] != steps:
            raise ValueError(
                f"checkpoint: {checkpoint} is of another run ({state['config']}, {state['steps']} steps); "
                "delete it or point elsewhere"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        sampler.rng.bit_generator.state = state["sampler"]
        torch.set_rng_state(state["torch"])
        first = state["step"]
    switch = steps - int(round(mse_tail * steps))
    model.train()
    for step in range(first, steps):
        low, hr = sampler.batch(batch)
        out = model(low)
        loss = TF.mse_loss(out, hr) if step >= switch else TF.l1_loss(out, hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        progress(f"train x{config.scale}", step + 1, steps, loss=float(loss.detach()))
        if checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            state = {
                "config": config.as_dict(),
                "steps": steps,
                "step": step + 1,
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "sampler": sampler.rng.bit_generator.state,
                "torch": torch.get_rng_state(),
            }
            with atomic_output(checkpoint) as tmp:
                torch.save(state, tmp)
    return model.eval()
