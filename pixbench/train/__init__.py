"""Training: a built dataset -> checkpoints of a reference model (``pixbench train``).

This stage owns the training loop (:mod:`~pixbench.train.loop`) and what it is set up with
(:mod:`~pixbench.train.prepare`), the checks of a dataset and
the options against the model before it starts (:mod:`~pixbench.train.checks`), starting or
resuming a run folder (:mod:`~pixbench.train.resume`), its options
(:mod:`~pixbench.train.settings`, config files in :mod:`~pixbench.train.config`), the
budget, learning-rate schedule and whole-run cap (:mod:`~pixbench.train.schedule`), the batches read from
a dataset split (:mod:`~pixbench.train.data`) and their grid-safe augmentation
(:mod:`~pixbench.train.augment`), one optimiser step with CUDA mixed precision
(:mod:`~pixbench.train.step`), the losses (:mod:`~pixbench.train.losses`), validation
(:mod:`~pixbench.train.validate`), training curves (:mod:`~pixbench.train.curves`), the
provenance record and config hash (:mod:`~pixbench.train.provenance`) and the checkpoint
file format (:mod:`~pixbench.train.checkpoint`). A run folder holds ``last.pt``, ``best.pt``,
``metrics.csv`` and ``curves.png``; ``pixbench export`` reads the checkpoints and nothing else.
"""

from __future__ import annotations

from pixbench.train.config import load_train_config
from pixbench.train.loop import TrainResult, train_model
from pixbench.train.provenance import config_sha256
from pixbench.train.schedule import SCHEDULES, lr_factor
from pixbench.train.settings import TrainSettings, parse_model_options

__all__ = [
    "SCHEDULES",
    "TrainResult",
    "TrainSettings",
    "config_sha256",
    "load_train_config",
    "lr_factor",
    "parse_model_options",
    "train_model",
]
