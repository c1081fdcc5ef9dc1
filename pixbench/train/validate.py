"""Per-epoch validation with the task's own metrics (``pixbench.tasks``, computed by ``pixbench.metrics``).

Outputs are rounded to 8-bit images before they are scored, and scored by the same
definition ``pixbench evaluate`` uses (:meth:`pixbench.tasks.Task.image_metrics`, or
:meth:`~pixbench.tasks.Task.block_metrics` for blockwise tasks), so the validation numbers
and the leaderboard's numbers measure the same thing. The task's primary metric (higher
is better) picks the best checkpoint: detection accuracy, restoration PSNR, inpainting
PSNR over the holes, localization IoU.

A segmenter's per-pixel probabilities are scored image by image against the sample's mask
with the task's ``mask_metrics(truth, probability)`` hook; a task without that hook gets
:func:`pixel_overlap` (pixel IoU and F1 at 0.5), the same definitions.
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


def pixel_overlap(truth: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Pixel IoU and F1 of ``probability >= 0.5`` against the ``HxW`` bool ``truth``.

    An image without mosaicked pixels and an empty prediction is a perfect match (1.0 for both),
    as the localize benchmark counts it.
    """
    pred = probability >= 0.5
    inter = float(np.logical_and(pred, truth).sum())
    union = float(np.logical_or(pred, truth).sum())
    total = float(pred.sum() + truth.sum())
    return {"iou": inter / union if union else 1.0, "f1": 2 * inter / total if total else 1.0}


def _masks(
    task: Task, model: nn.Module, data: SplitBatches, batch_size: int, device: torch.device, loss_fn: nn.Module
) -> _Scored:
    """The mean over the split's images of each mask metric of the sigmoid of the model's logit maps."""
    score = getattr(task, "mask_metrics", pixel_overlap)
    losses, weights, per_image = [], [], {}
    for b in data.batches(batch_size):
        logits = model(b.input.to(device)).float().cpu()
        losses.append(float(loss_fn(logits, b.target)))
        weights.append(len(b.target))
        probs, truths = torch.sigmoid(logits)[:, 0].numpy(), b.target[:, 0].numpy() > 0.5
        for prob, truth in zip(probs, truths, strict=True):
            for key, value in score(truth, prob).items():
                per_image.setdefault(key, []).append(float(value))
    return {k: float(np.mean(v)) for k, v in per_image.items()}, losses, weights


@torch.no_grad()
def validate(
    model: nn.Module,
    data: SplitBatches,
    *,
    task: str,
    batch_size: int,
    device: torch.device,
    loss_fn: nn.Module,
    masks: bool = False,
) -> dict[str, float]:
    """Score ``model`` on a whole split (no crops); returns ``val_loss`` and the task's metrics.

    ``masks``: the model is a segmenter (one logit per pixel), scored against the samples' masks.
    """
    spec = get_task(task)
    model.eval()
    if masks:
        out, losses, weights = _masks(spec, model, data, batch_size, device, loss_fn)
    elif not spec.restores:
        out, losses, weights = _detector(model, data, batch_size, device, loss_fn)
    elif spec.blockwise:
        out, losses, weights = _blocks(spec, model, data, batch_size, device)
    else:
        out, losses, weights = _images(spec, model, data, batch_size, device)
    out["val_loss"] = float(np.average(losses, weights=weights))
    return out
