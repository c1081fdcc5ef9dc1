"""One optimiser step, with CUDA mixed precision where asked for.

Mixed precision (``--amp``, the default) runs the forward passes under
``torch.autocast(float16)`` and scales the losses with one ``torch.amp.GradScaler`` that
serves both pix2pix optimisers (discriminator, then generator, one ``update`` per step, as
the torch AMP notes prescribe for several optimisers). It applies on CUDA only: on any other
device both are disabled, and a step is exactly the plain float32 step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from pixbench.train.data import Batch
from pixbench.train.losses import gan_loss
from pixbench.train.settings import TrainSettings


def _grad_scaler(enabled: bool) -> Any:
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)  # torch < 2.3


class Stepper:
    """Runs training steps of one model (and its discriminator) on one device.

    Args:
        net: The model (the generator for pix2pix).
        opt: Its optimiser.
        loss_fn: The supervised loss (pix2pix uses L1 + GAN with the weights in ``settings``).
        device: Where the batches go.
        settings: ``amp``, ``l1_weight`` and ``gan_weight`` are read.
        disc: The pix2pix discriminator, with ``opt_d``.
        forward: What the supervised loss is taken of, when not ``net(x)`` (blockcnn's
            ``restore_context`` under ``--context-loss``).
    """

    def __init__(
        self,
        net: nn.Module,
        opt: torch.optim.Optimizer,
        loss_fn: nn.Module,
        device: torch.device,
        settings: TrainSettings,
        disc: nn.Module | None = None,
        opt_d: torch.optim.Optimizer | None = None,
        forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.net, self.opt, self.loss_fn, self.device = net, opt, loss_fn, device
        self.forward = forward or net
        self.disc, self.opt_d = disc, opt_d
        self.settings = settings
        self.amp = bool(settings.amp and device.type == "cuda")
        self.scaler = _grad_scaler(self.amp)

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt] + ([self.opt_d] if self.opt_d is not None else [])

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every optimiser (the schedule's value for the next step)."""
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp):
            yield

    def _backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)

    def step(self, b: Batch) -> float:
        """One step on batch ``b``; returns the (generator) loss."""
        self.net.train()
        if self.disc is not None and self.opt_d is not None:
            loss = self._gan_step(b)
        else:
            x, y = b.input.to(self.device), b.target.to(self.device)
            self.opt.zero_grad(set_to_none=True)
            with self._autocast():
                loss = self.loss_fn(self.forward(x), y)
            self._backward_step(loss, self.opt)
        self.scaler.update()
        return float(loss.detach())

    def _gan_step(self, b: Batch) -> torch.Tensor:
        """One pix2pix step: the discriminator on real/fake pairs, then the generator on L1 + GAN."""
        assert self.disc is not None and self.opt_d is not None  # checked by the caller
        self.disc.train()
        x, y = b.input.to(self.device), b.target.to(self.device)
        with self._autocast():
            fake = self.net(x)
            loss_d = 0.5 * (gan_loss(self.disc(x, y), True) + gan_loss(self.disc(x, fake.detach()), False))
        self.opt_d.zero_grad(set_to_none=True)
        self._backward_step(loss_d, self.opt_d)
        self.opt.zero_grad(set_to_none=True)
        with self._autocast():
            l1 = nn.functional.l1_loss(fake.float(), y)
            loss_g = self.settings.gan_weight * gan_loss(self.disc(x, fake), True) + self.settings.l1_weight * l1
        self._backward_step(loss_g, self.opt)
        return loss_g

    def state_dict(self) -> dict[str, Any]:
        """Optimiser and scaler state, for the checkpoint."""
        state: dict[str, Any] = {"optimizer": self.opt.state_dict(), "scaler": self.scaler.state_dict()}
        if self.opt_d is not None:
            state["optimizer_d"] = self.opt_d.state_dict()
        return state

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (a scaler saved without AMP leaves this one fresh)."""
        self.opt.load_state_dict(ckpt["optimizer"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(ckpt["optimizer_d"])
        if self.amp and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
