"""Per-epoch validation with the task's own metrics (``pixbench.tasks``, computed by ``pixbench.metrics``).

Outputs are rounded to 8-bit images before they are scored, and scored by the same
definition ``pixbench evaluate`` uses (:meth:`pixbench.tasks.Task.image_metrics`, or
:meth:`~pixbench.tasks.Task.block_metrics` for blockwise tasks), so the validation numbers
and the leaderboard's numbers measure the same thing. The task's primary metric (higher
is better) picks the best checkpoint: detection accuracy, restoration PSNR, inpainting
PSNR over the holes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pixbench.tasks import Task, get_task
from pixbench.train.data import SplitBatches

#: What each scoring helper returns: the metrics, and the loss and size of each batch.
_Scored = tuple[dict[str, float], list[float], list[int]]


def _to_uint8(batch: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` float in [0, 1] -> ``(N, H, W, C)`` uint8, rounded like an exported image."""
    return (batch.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _detector(
    model: nn.Module, data: SplitBatches, batch_size: int, device: torch.device, loss_fn: nn.Module
) -> _Scored:
    """Classification metrics at a 0.5 threshold of the sigmoid of the model's logits."""
    from pixbench import metrics

    losses, weights, labels, scores = [], [], [], []
    for b in data.batches(batch_size):
        logits = model(b.input.to(device)).cpu()
        losses.append(float(loss_fn(logits, b.target)))
        weights.append(len(b.target))
        labels.append(b.target[:, 0].numpy())
        scores.append(torch.sigmoid(logits)[:, 0].numpy())
    result = metrics.classification_metrics(np.concatenate(labels).astype(int), np.concatenate(scores), threshold=0.5)
    out = {k: float(v) for k, v in result.items() if isinstance(v, (int, float, np.floating, np.integer))}
    return out, losses, weights


def _blocks(task: Task, model: nn.Module, data: SplitBatches, batch_size: int, device: torch.device) -> _Scored:
    """The task's block metrics over every centre block of the split at once."""
    losses, weights, refs, tests = [], [], [], []
    for b in data.batches(batch_size):
        pred = model(b.input.to(device)).cpu()
        losses.append(float(nn.functional.l1_loss(pred, b.target)))
        weights.append(len(b.target))
        refs.append(_to_uint8(b.target))
        tests.append(_to_uint8(pred))
    scores = task.block_metrics(np.concatenate(refs), np.concatenate(tests))
    return {k: float(v) for k, v in scores.items()}, losses, weights


def _images(task: Task, model: nn.Module, data: SplitBatches, batch_size: int, device: torch.device) -> _Scored:
    """The mean over the split's images of each of the task's image metrics."""
    losses, weights, per_image = [], [], {}
    for b in data.batches(batch_size):
        pred = model(b.input.to(device)).cpu()
        losses.append(float(nn.functional.l1_loss(pred, b.target)))
        weights.append(len(b.target))
        refs, tests = _to_uint8(b.target), _to_uint8(pred)
        for i in range(len(refs)):
            mask = None if b.mask is None else b.mask[i, 0].numpy() > 0.5
            for key, value in task.image_metrics(refs[i], tests[i], mask).items():
                per_image.setdefault(key, []).append(float(value))
    return {k: float(np.mean(v)) for k, v in per_image.items()}, losses, weights


@torch.no_grad()
def validate(
    model: nn.Module, data: SplitBatches, *, task: str, batch_size: int, device: torch.device, loss_fn: nn.Module
) -> dict[str, float]:
    """Score ``model`` on a whole split (no crops); returns ``val_loss`` and the task's metrics."""
    spec = get_task(task)
    model.eval()
    if not spec.restores:
        out, losses, weights = _detector(model, data, batch_size, device, loss_fn)
    elif spec.blockwise:
        out, losses, weights = _blocks(spec, model, data, batch_size, device)
    else:
        out, losses, weights = _images(spec, model, data, batch_size, device)
    out["val_loss"] = float(np.average(losses, weights=weights))
    return out
