"""How to feed one model: the :class:`InputSpec` record and the values its fields may take.

:func:`pixbench.runtime.resolve.resolve_spec` fills an :class:`InputSpec` for a model
and a task; :class:`pixbench.runtime.runner.Runner` follows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixbench.degradations.blocks import BLOCK, CONTEXT
from pixbench.tasks import Task, get_task

#: BLOCK and CONTEXT are re-exported: the runner and ``pixbench.runtime`` read them from here.
__all__ = ["BLOCK", "CHANNELS", "CONTEXT", "LAYOUTS", "RANGES", "InputSpec"]

LAYOUTS = ("nchw", "nhwc")
RANGES = ("01", "11", "255")
CHANNELS = ("rgb", "y")


@dataclass
class InputSpec:
    """How to feed one model, and where each choice came from (``sources``)."""

    task: str
    layout: str
    range: str
    channels: str
    image_input: str
    dtype: np.dtype
    tile: tuple[int, int] | None = None
    batch: int | None = None
    input: str = "full"
    scale: int = 1
    mask_input: str = "none"
    mask_name: str | None = None
    output: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    #: The model's own task when it differs from the dataset's: a ``blockcnn`` model (24x24 -> 8x8)
    #: scored on a ``jpeg`` dataset is slid over the whole images on the 8x8 grid.
    model_task: str = ""

    def __post_init__(self) -> None:
        self.model_task = self.model_task or self.task

    @property
    def task_info(self) -> Task:
        """The dataset's :class:`~pixbench.tasks.Task`: what the model is scored on."""
        return get_task(self.task)

    @property
    def blockwise(self) -> bool:
        """True for BlockCNN-style models (the model's task is blockwise): 24x24 context in, 8x8 centre block out."""
        return get_task(self.model_task).blockwise

    def assumed(self) -> dict[str, Any]:
        """The decisions as plain JSON values (for the result file and the terminal)."""
        out: dict[str, Any] = {
            "layout": self.layout,
            "range": self.range,
            "channels": self.channels,
            "size": list(self.tile) if self.tile else "dynamic",
        }
        task = self.task_info
        if task.takes_lowres:
            out.update(input=self.input, scale=self.scale)
        if task.takes_mask:
            out["mask_input"] = self.mask_input
        if not task.restores:
            out["output"] = self.output
        if self.model_task != self.task:
            out["model_task"] = self.model_task
        return out
