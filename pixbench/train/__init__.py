"""Training: a built dataset -> checkpoints of a reference model (``pixbench train``).

This stage owns the training loop (:mod:`~pixbench.train.loop`), its options
(:mod:`~pixbench.train.settings`), the batches read from a dataset split
(:mod:`~pixbench.train.data`), the losses (:mod:`~pixbench.train.losses`), per-epoch
validation (:mod:`~pixbench.train.validate`) and the checkpoint file format
(:mod:`~pixbench.train.checkpoint`). A run folder holds ``last.pt``, ``best.pt`` and
``metrics.csv``; ``pixbench export`` reads the checkpoints and nothing else.
"""

from __future__ import annotations

from pixbench.train.loop import TrainResult, train_model
from pixbench.train.settings import TrainSettings, parse_model_options

__all__ = ["TrainResult", "TrainSettings", "parse_model_options", "train_model"]
