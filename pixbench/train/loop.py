"""One training harness for every reference model: ``pixbench train``.

:func:`train_model` reads a dataset built by ``pixbench build-dataset``, checks that its
task fits the model, trains with the model's loss (BCE for detectors; L1, MSE or VGG-19
perceptual for restorers; L1 + GAN for pix2pix) to a budget of epochs, steps or minutes
with a learning-rate schedule sized to that budget (:mod:`~pixbench.train.schedule`),
validates every ``val_every`` epochs and after the last with ``pixbench.metrics``, and
writes into the run folder::

    RUN_DIR/last.pt       checkpoint after the latest epoch (what --resume continues)
    RUN_DIR/best.pt       checkpoint with the best validation primary metric
    RUN_DIR/metrics.csv   one row per epoch: steps, train loss, lr, seconds, validation metrics
    RUN_DIR/curves.png    loss and metric curves, redrawn after each validation

Training is seeded: on the CPU the same seed and an epochs or steps budget give the same
weights, and an interrupted run resumed with ``--resume`` ends with the same weights as one
that was never stopped (data order, crops and flips come from a generator seeded by
``(seed, epoch)``; the torch RNG state, the step count and the training seconds are stored in
each checkpoint). A minutes budget depends on the machine's speed, so it is not reproducible.

``max_minutes`` caps the whole run's wall clock beside the budget (:class:`~pixbench.train.schedule.WallCap`):
the run stops taking steps when one more step and the closing validation and checkpoints would
not fit, closes, and ``best.pt``'s record says ``capped``. A run that ends within its cap is
exactly the run without it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pixbench.datasets import open_dataset
from pixbench.errors import ModelError
from pixbench.images import atomic_output
from pixbench.models import MODELS, ModelSpec
from pixbench.progress import Progress, silent
from pixbench.train.checkpoint import read_checkpoint, save_checkpoint
from pixbench.train.curves import write_curves
from pixbench.train.data import SplitBatches
from pixbench.train.losses import validation_loss
from pixbench.train.prepare import RunSetup, build_network, prepare_run
from pixbench.train.provenance import training_record, with_run_totals
from pixbench.train.resume import RunState, restore_run, start_run
from pixbench.train.schedule import WallCap, lr_factor
from pixbench.train.settings import TrainSettings
from pixbench.train.validate import validate


@dataclass
class TrainResult:
    """What a finished :func:`train_model` call wrote."""

    run_dir: Path
    last: Path
    best: Path
    epochs: int
    steps: int
    minutes: float
    best_metric: str
    best_value: float
    best_epoch: int
    config_sha256: str
    history: list[dict[str, Any]]
    capped: bool = False  # the whole-run cap (``max_minutes``) stopped the run before its budget
    wall_minutes: float = 0.0  # the whole run's wall clock, all sessions


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels on the CPU for the duration of training, then the caller's setting back."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(device.type == "cpu" or before)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


@contextlib.contextmanager
def _shape_errors(spec: ModelSpec, what: str) -> Iterator[None]:
    """Turn torch's shape errors (an input too small for the network) into one clear line."""
    try:
        yield
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{spec.name} cannot run on the {what} ({first}); use larger samples/--crop or a shallower model"
        ) from None


def _write_csv(path: Path, history: list[dict[str, Any]]) -> None:
    with atomic_output(path) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)


class _Trainer:
    """One run in progress: the network and its stepper, where the run stands, its history and best score.

    Built inside :func:`_deterministic` and after seeding torch, so that the weights drawn
    here are the seed's.
    """

    def __init__(self, setup: RunSetup, ckpt: dict[str, Any] | None, progress: Progress, started: float) -> None:
        self.setup = setup
        self.progress = progress
        self.net, self.stepper = build_network(setup.spec, setup.args, setup.settings, setup.device, setup.lr)
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"metric": setup.metric, "value": -math.inf, "epoch": 0}
        self.state = RunState()
        if ckpt is not None:
            self.state, self.history, self.best = restore_run(ckpt, self.net, self.stepper, f"{setup.run / 'last.pt'}")
        self.lr = self._scheduled_lr()  # the rate of the latest step
        spent = float(ckpt.get("wall_seconds", 0.0)) if ckpt is not None else 0.0
        self.cap, self.capped = WallCap(setup.settings.max_minutes, spent=spent, started=started), False
        self.wall_minutes = 0.0  # the whole run's wall clock when it ended
        if self.cap.minutes is not None:
            self.cap.closing_estimate += self._validation_estimate()
        if self.state.steps and self.over_cap(closings=1):  # a resumed run with no time left in its cap
            raise ModelError(
                f"--resume: {setup.run} has {spent / 60.0:.2f} of its --max-minutes {self.cap.minutes:g} spent, "
                "too much to fit another step and the closing validation; give a larger --max-minutes to continue it"
            )

    def _validation_estimate(self) -> float:
        """Seconds a whole validation should take: its first batch (timed on a second pass) times the split's batches."""
        s, first = self.setup, _FirstBatch(self.setup.val_data)
        self._validate(first)  # once untimed: a first call pays one-off costs (kernel set-up, compiling, decoding)
        mark = time.perf_counter()
        self._validate(first)  # eval mode draws no random numbers: the weights are unchanged
        return (time.perf_counter() - mark) * math.ceil(len(s.val_data) / s.settings.batch_size)

    def _scheduled_lr(self) -> float:
        s = self.setup
        fraction = s.budget.fraction(self.state.steps, self.state.seconds)
        return s.lr * lr_factor(s.settings.schedule, fraction, warmup=s.settings.warmup)

    def exhausted(self) -> bool:
        """Whether the budget is used up or the whole-run cap has stopped the run."""
        st = self.state
        return self.capped or self.setup.budget.exhausted(
            steps_done=st.steps, epochs_done=st.epochs_done, seconds=st.seconds
        )

    def over_cap(self, *, closings: int) -> bool:
        """Stop the run (``capped``) when one more step and ``closings`` closings no longer fit in the cap.

        Asked after every step (one closing: the final one) and at every epoch's end (two: this end's
        and the final one), once the run has taken a step and while its budget is not used up.
        """
        st = self.state
        if not self.exhausted() and st.steps:
            self.capped = self.cap.reached(st.seconds / st.steps, closings=closings)
        return self.capped

    def report(self, **values: float) -> None:
        """Tell ``progress`` where the run stands, with the latest validation primary metric."""
        metric = self.setup.metric
        last_val = next((r[metric] for r in reversed(self.history) if _has(r, metric)), None)
        shown = {} if last_val is None else {metric: float(last_val)}
        self.progress("train", *self.setup.budget.progress(self.state.steps, self.state.seconds), **values, **shown)

    def train_epoch(self) -> bool:
        """Train the epoch in progress until it ends or the budget runs out; whether it ended (a complete pass)."""
        s, st = self.setup, self.state
        batches = s.train_data.batches(s.settings.batch_size, np.random.default_rng([s.settings.seed, st.epoch]))
        for _ in range(st.epoch_steps):  # resuming inside an epoch: replay its data stream
            next(batches)
        total, count = st.epoch_loss
        mark = time.perf_counter()
        complete = True
        for b in batches:
            self.lr = self._scheduled_lr()
            self.stepper.set_lr(self.lr)
            with _shape_errors(s.spec, f"training batch of shape {tuple(b.input.shape)}"):
                loss = self.stepper.step(b)
            now = time.perf_counter()
            st.seconds += now - mark
            mark = now
            st.steps += 1
            st.epoch_steps += 1
            total, count = total + loss * len(b.input), count + len(b.input)
            self.report(epoch=float(st.epoch), loss=total / max(count, 1), lr=self.lr)
            if self.exhausted() or self.over_cap(closings=1):
                complete = next(batches, None) is None
                break
        st.epoch_loss = (total, count)
        if complete:
            st.epochs_done = st.epoch
        return complete

    def _scores(self) -> dict[str, float]:
        """Validation scores when this epoch is validated (every ``val_every`` epochs and the last), else none."""
        if not self.exhausted() and self.state.epoch % self.setup.settings.val_every != 0:
            return {}
        return self._validate(self.setup.val_data)

    def _validate(self, data: SplitBatches | _FirstBatch) -> dict[str, float]:
        s = self.setup
        with _shape_errors(s.spec, "validation images"):
            return validate(
                self.net,
                data,  # type: ignore[arg-type]
                task=s.ds.task,
                batch_size=s.settings.batch_size,
                device=s.device,
                loss_fn=validation_loss(s.spec.output),
                masks=s.spec.output == "mask",
            )

    def end_epoch(self, complete: bool, started: float) -> None:
        """Validate if due, record the epoch's row, and write the checkpoints, ``metrics.csv`` and curves."""
        s, st = self.setup, self.state
        total, count = st.epoch_loss
        row: dict[str, Any] = {"epoch": st.epoch, "steps": st.steps, "train_loss": total / max(count, 1), "lr": self.lr}
        closing = time.perf_counter()
        self.over_cap(closings=2)  # without room for this end and a final one after another step, this end is final
        scores = self._scores()
        st.epoch_seconds += time.perf_counter() - started
        row["seconds"] = round(st.epoch_seconds, 3)
        self.history.append({**row, **scores})
        improved = bool(scores) and scores[s.metric] > self.best["value"]
        if improved:
            self.best = {"metric": s.metric, "value": float(scores[s.metric]), "epoch": st.epoch, "steps": st.steps}
        if complete:
            st.next_epoch()
        payload = self._payload()
        save_checkpoint(s.run / "last.pt", payload)
        if improved:
            save_checkpoint(s.run / "best.pt", payload)
        _write_csv(s.run / "metrics.csv", self.history)
        if scores:
            write_curves(
                s.run / "curves.png", self.history, model=s.spec.name, metric=s.metric, minutes=st.seconds / 60.0
            )
            self.cap.closed(time.perf_counter() - closing)
        self.report(epoch=float(row["epoch"]), loss=row["train_loss"], lr=self.lr)

    def _payload(self) -> dict[str, Any]:
        """The checkpoint of the run as it stands (see :mod:`pixbench.train.checkpoint`)."""
        s, ds, epoch = self.setup, self.setup.ds, self.history[-1]["epoch"]
        training = training_record(
            spec=s.spec,
            settings=s.settings,
            steps=self.state.steps,
            epochs=epoch,
            train_seconds=self.state.seconds,
            device=s.device,
            amp=self.stepper.amp,
            dataset_fingerprint=ds.fingerprint,
            dataset_recipe=f"{ds.recipe_name}@{ds.recipe_version}",
            config_hash=s.config_hash,
        )
        dataset = {
            "path": str(ds.root),
            "fingerprint": ds.fingerprint,
            "task": ds.task,
            "recipe": {"name": ds.recipe_name, "version": ds.recipe_version},
        }
        payload = {
            "model": s.spec.name,
            "model_args": s.args,
            "dataset": dataset,
            "settings": s.settings.model_dump(),
            "epoch": epoch,
            "state": dict(vars(self.state)),
            "config_sha256": s.config_hash,
            "training": training,
            "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
            **self.stepper.state_dict(),
            "rng": torch.get_rng_state(),
            "history": self.history,
            "best": self.best,
            "wall_seconds": self.cap.seconds(),
        }
        if self.stepper.disc is not None:
            payload["discriminator"] = {k: v.cpu() for k, v in self.stepper.disc.state_dict().items()}
        return payload

    def record_run_totals(self) -> None:
        """Give ``best.pt``'s training record the whole run's steps, epochs and minutes (it was saved earlier)."""
        self.wall_minutes = round(self.cap.seconds() / 60.0, 2)
        best = self.setup.run / "best.pt"
        if not best.is_file():
            return
        payload = read_checkpoint(best)
        st = self.state
        epochs = int(self.history[-1]["epoch"]) if self.history else 0
        totals = with_run_totals(payload["training"], steps=st.steps, epochs=epochs, train_seconds=st.seconds)
        cap = {} if self.cap.minutes is None else {"cap_minutes": self.cap.minutes, "capped": self.capped}
        payload["training"] = {**totals, "run_wall_minutes": self.wall_minutes, **cap}
        save_checkpoint(best, payload)

    def result(self) -> TrainResult:
        """What the run wrote, for :func:`train_model` to return."""
        run, history = self.setup.run, self.history
        return TrainResult(
            run_dir=run,
            last=run / "last.pt",
            best=run / "best.pt",
            epochs=int(history[-1]["epoch"]) if history else 0,
            steps=self.state.steps,
            minutes=round(self.state.seconds / 60.0, 2),
            best_metric=self.setup.metric,
            best_value=float(self.best["value"]),
            best_epoch=int(self.best["epoch"]),
            config_sha256=self.setup.config_hash,
            history=history,
            capped=self.capped,
            wall_minutes=self.wall_minutes,
        )


def train_model(
    model: str,
    dataset: str | Path,
    out: str | Path,
    *,
    model_args: dict[str, Any] | None = None,
    settings: TrainSettings | None = None,
    resume: bool = False,
    progress: Progress = silent,
) -> TrainResult:
    """Train a registered model on a built dataset; see the module docstring for the outputs.

    Args:
        model: Registry name (``pixbench.models.MODELS``).
        dataset: Dataset folder written by ``pixbench build-dataset``.
        out: Run folder for checkpoints, ``metrics.csv`` and ``curves.png``.
        model_args: Constructor options (missing ones take the model's defaults).
        settings: Training options; with ``resume`` only the budget (when one is given; never
            smaller than what is done), ``device``, ``cache`` and ``max_minutes`` apply.
        resume: Continue the run in ``out`` from its ``last.pt``.
        progress: Told after every step: phase ``"train"``, steps done of the budget's steps (or
            training seconds of a minutes budget), with ``epoch``, ``loss`` (the epoch's mean so
            far), ``lr`` and the latest validation primary metric.

    Raises:
        ModelError: Unknown model, a task that does not fit, a run folder in the wrong state.
        DatasetError: The dataset cannot be read or has no train/val split.
        WeightsNotFoundError: Pretrained or perceptual-loss weights are needed but missing.
    """
    started = time.perf_counter()  # the whole run's clock, for ``max_minutes``
    spec = MODELS.get(model)
    ds = open_dataset(dataset)
    run = Path(out)
    args, settings, ckpt = start_run(spec, ds, run, model_args, settings or TrainSettings(), resume)
    setup = prepare_run(spec, ds, run, args, settings)
    with _deterministic(setup.device):
        torch.manual_seed(settings.seed)
        trainer = _Trainer(setup, ckpt, progress, started)
        trainer.report()
        while not trainer.exhausted():
            epoch_start = time.perf_counter()
            complete = trainer.train_epoch()
            trainer.end_epoch(complete, epoch_start)
        trainer.record_run_totals()
    return trainer.result()


class _FirstBatch:
    """A split that yields only its first validation batch (to time one)."""

    def __init__(self, data: SplitBatches) -> None:
        self.data = data

    def batches(self, batch_size: int) -> Iterator[Any]:
        return itertools.islice(self.data.batches(batch_size), 1)


def _has(row: dict[str, Any], key: str) -> bool:
    value = row.get(key)
    return value is not None and not (isinstance(value, float) and math.isnan(value))
