"""Building datasets: recipe x source -> a dataset folder, parallel, resumable, byte-deterministic.

This stage owns turning one clean source image into its samples
(:mod:`~pixbench.builder.samples`), running that work on an engine
(:mod:`~pixbench.builder.engine`: in-process, a local process pool, or Ray in
:mod:`~pixbench.builder.ray_engine`, behind one interface), the output folder and its
working state (:mod:`~pixbench.builder.output`; a folder already there, :mod:`~pixbench.builder.overwrite`), and
assembling the finished folder with its metadata, fingerprint, card and ``dataset.json``
(:mod:`~pixbench.builder.assemble`; Parquet shards, :mod:`~pixbench.builder.parquet`). :func:`build_dataset`
(:mod:`~pixbench.builder.run`) ties them together. The format it writes, in either layout, is
``docs/dataset-format.md``; :mod:`pixbench.datasets` reads it.
"""

from __future__ import annotations

from pixbench.builder.assemble import TRIPLET_COLUMNS, dataset_card, dataset_fingerprint, metadata_header
from pixbench.builder.engine import (
    ENGINES,
    Engine,
    InlineEngine,
    ProcessPoolEngine,
    default_workers,
    local_engine,
    make_engine,
)
from pixbench.builder.run import BuildResult, build_dataset
from pixbench.builder.samples import TaskSample, assign_split, make_sample, min_side, process_item, sample_seed

__all__ = [
    "ENGINES",
    "TRIPLET_COLUMNS",
    "BuildResult",
    "Engine",
    "InlineEngine",
    "ProcessPoolEngine",
    "TaskSample",
    "assign_split",
    "build_dataset",
    "dataset_card",
    "dataset_fingerprint",
    "default_workers",
    "local_engine",
    "make_engine",
    "make_sample",
    "metadata_header",
    "min_side",
    "process_item",
    "sample_seed",
]
