"""Training the grid upscaler graphs' network (``grid-upscaler``) as the published graphs were trained.

``tools/train_depixelators.py`` drives :func:`train_upscaler`; the network is the registry's
``grid-upscaler`` (:mod:`pixbench.models.grid_upscaler`) and the graph it becomes is written by
:func:`pixbench.forensics.upscaler_onnx.save_depixelator_onnx`. This loop, not ``pixbench train``,
made the published ``grid-upscaler-*.onnx`` files: it samples its own crops of training photos
(:class:`CropSampler`), with L1 then optionally squared error, Adam and a one-cycle schedule.
Needs the ``train`` extra (torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as TF

from pixbench.forensics.upscaler_config import UpscalerConfig
from pixbench.images import atomic_output
from pixbench.models import MODELS
from pixbench.models.grid_upscaler import GridUpscaler
from pixbench.progress import Progress, silent


def build_upscaler(config: UpscalerConfig) -> GridUpscaler:
    """The registry's ``grid-upscaler`` with the options of ``config``."""
    return MODELS.get("grid-upscaler").build(config.as_dict())


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


class _Run:
    """Model, optimiser, schedule and sampler of one training run, saved and restored together."""

    def __init__(self, config: UpscalerConfig, sampler: CropSampler, *, steps: int, lr: float) -> None:
        self.config, self.sampler, self.steps = config, sampler, steps
        self.model = build_upscaler(config)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=lr, total_steps=steps, pct_start=0.05)

    def resume(self, checkpoint: Path) -> int:
        """Load ``checkpoint``; return the steps it had done.

        Raises:
            ValueError: The checkpoint is of another configuration or step count.
        """
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != self.config.as_dict() or state["steps"] != self.steps:
            raise ValueError(
                f"checkpoint: {checkpoint} is of another run ({state['config']}, {state['steps']} steps); "
                "delete it or point elsewhere"
            )
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.sampler.rng.bit_generator.state = state["sampler"]
        torch.set_rng_state(state["torch"])
        return state["step"]

    def save(self, checkpoint: Path, step: int) -> None:
        """Write the whole state after ``step`` steps, atomically."""
        state: dict[str, Any] = {
            "config": self.config.as_dict(),
            "steps": self.steps,
            "step": step,
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "sampler": self.sampler.rng.bit_generator.state,
            "torch": torch.get_rng_state(),
        }
        with atomic_output(checkpoint) as tmp:
            torch.save(state, tmp)


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
    """Train a ``grid-upscaler`` with L1 loss, Adam and a one-cycle learning-rate schedule.

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
    run = _Run(config, CropSampler(images, scale=config.scale, size=size, seed=seed), steps=steps, lr=lr)
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    first = run.resume(checkpoint) if checkpoint is not None and checkpoint.is_file() else 0
    switch = steps - int(round(mse_tail * steps))
    run.model.train()
    for step in range(first, steps):
        low, hr = run.sampler.batch(batch)
        out = run.model(low)
        loss = TF.mse_loss(out, hr) if step >= switch else TF.l1_loss(out, hr)
        run.opt.zero_grad()
        loss.backward()
        run.opt.step()
        run.sched.step()
        progress(f"train x{config.scale}", step + 1, steps, loss=float(loss.detach()))
        if checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            run.save(checkpoint, step + 1)
    return run.model.eval()
