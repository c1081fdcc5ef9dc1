"""A run folder: starting a fresh run in it, or continuing the one it holds (``--resume``).

Where a run stands (:class:`RunState`) is saved in every checkpoint beside the weights, the
optimiser state, the torch RNG state, the history and the best score, so a resumed run goes on
from the exact batch it stopped after and ends with the same weights as one never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixbench.datasets import BuiltDataset
from pixbench.errors import ModelError
from pixbench.models import ModelSpec
from pixbench.train.checkpoint import load_state_strict, read_checkpoint
from pixbench.train.checks import check_fit
from pixbench.train.settings import TrainSettings
from pixbench.train.step import Stepper


@dataclass
class RunState:
    """Where a run stands; saved in every checkpoint so ``--resume`` continues from it."""

    epoch: int = 1  # the epoch in progress (or the next one)
    epoch_steps: int = 0  # batches of ``epoch`` already trained
    epoch_loss: tuple[float, int] = (0.0, 0)  # summed sample losses and samples of ``epoch`` so far
    epoch_seconds: float = 0.0
    steps: int = 0
    seconds: float = 0.0  # the training clock (data and steps; no validation or saving)
    epochs_done: int = 0  # complete passes

    def next_epoch(self) -> None:
        """Move on to the next epoch, which starts fresh."""
        self.epoch, self.epoch_steps, self.epoch_loss, self.epoch_seconds = self.epoch + 1, 0, (0.0, 0), 0.0


def start_run(
    spec: ModelSpec,
    ds: BuiltDataset,
    run: Path,
    model_args: dict[str, Any] | None,
    settings: TrainSettings,
    resume: bool,
) -> tuple[dict[str, Any], TrainSettings, dict[str, Any] | None]:
    """Resolve constructor args and settings, from the checkpoint when resuming.

    Returns:
        The model's full constructor args, the settings the run trains with, and the
        checkpoint it continues (``None`` for a fresh run).

    Raises:
        ModelError: A fresh run into a folder that holds one, or a resume that does not fit
            the folder's run (nothing to continue, another model or dataset, other model
            options, a budget smaller than what is done).
    """
    last = run / "last.pt"
    if not resume:
        if last.exists():
            raise ModelError(
                f"{run} already holds a training run (last.pt); pass --resume to continue it or choose another -o"
            )
        args = spec.full_args(model_args)
        check_fit(spec, ds, args, settings.factor)
        return args, settings, None
    if not last.is_file():
        raise ModelError(f"--resume: {run} has no last.pt to continue; run without --resume to start training")
    ckpt = read_checkpoint(last)
    if ckpt["model"] != spec.name:
        raise ModelError(f"--resume: {last} trained {ckpt['model']!r}, not {spec.name!r}")
    if ckpt["dataset"]["fingerprint"] != ds.fingerprint:
        raise ModelError(
            f"--resume: {last} was trained on dataset {ckpt['dataset']['fingerprint']}, but {ds.root} is {ds.fingerprint}"
        )
    if "state" not in ckpt:
        raise ModelError(f"--resume: {last} was written by an older pixbench and cannot be continued; start a new run")
    if model_args and spec.full_args(model_args) != spec.full_args(ckpt["model_args"]):
        raise ModelError(f"--resume: model options differ from the run's ({ckpt['model_args']}); drop --arg to resume")
    # the run's own settings continue; only the budget (never smaller) and the device may change
    kept = TrainSettings(**ckpt["settings"]).with_budget_of(settings)
    state = ckpt["state"]
    kind, amount = kept.budget
    done = {"steps": state["steps"], "epochs": state["epochs_done"], "minutes": state["seconds"] / 60.0}[kind]
    if kind != "minutes" and amount < done:
        raise ModelError(f"--resume: {run} has already trained {done} {kind}; give --{kind} of at least {done}")
    return spec.full_args(ckpt["model_args"]), kept, ckpt


def restore_run(
    ckpt: dict[str, Any], net: nn.Module, stepper: Stepper, where: str
) -> tuple[RunState, list[dict[str, Any]], dict[str, Any]]:
    """Load a checkpoint's weights, optimiser and torch RNG state strictly, and return where its run stood.

    Returns:
        The run state, the history (without the row of an epoch still in progress, which is
        written again when that epoch goes on) and the best score so far.
    """
    load_state_strict(net, ckpt["state_dict"], where)
    if stepper.disc is not None:
        load_state_strict(stepper.disc, ckpt["discriminator"], f"{where} (discriminator)")
    stepper.load_state_dict(ckpt)
    torch.set_rng_state(ckpt["rng"])
    history, best = list(ckpt["history"]), dict(ckpt["best"])
    saved = dict(ckpt["state"])
    state = RunState(**{**saved, "epoch_loss": tuple(saved["epoch_loss"])})
    if state.epoch_steps and history and history[-1]["epoch"] == state.epoch:
        history.pop()
    return state, history, best
