"""Per-epoch validation with pixbench's own metrics (``pixbench.metrics``).

Outputs are rounded to 8-bit images before they are scored, exactly as ``pixbench
evaluate`` scores an exported model, so the validation numbers and the leaderboard's
numbers measure the same thing. The task's primary metric (``pixbench.tasks``, higher
is better) picks the best checkpoint: detection accuracy, restoration PSNR, inpainting
PSNR over the holes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pixbench.train.data import SplitBatches


def _to_uint8(batch: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` float in [0, 1] -> ``(N, H, W, C)`` uint8, rounded like an exported image."""
    return (batch.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def validate(
    model: nn.Module, data: SplitBatches, *, task: str, batch_size: int, device: torch.device, loss_fn: nn.Module
) -> dict[str, float]:
    """Score ``model`` on a whole split (no crops); returns ``val_loss`` and the task's metrics."""
    from pixbench import metrics

    model.eval()
    losses: list[float] = []
    weights: list[int] = []
    if task == "detect":
        labels, scores = [], []
        for b in data.batches(batch_size):
            logits = model(b.input.to(device)).cpu()
            losses.append(float(loss_fn(logits, b.target)))
            weights.append(len(b.target))
            labels.append(b.target[:, 0].numpy())
            scores.append(torch.sigmoid(logits)[:, 0].numpy())
        result = metrics.classification_metrics(
            np.concatenate(labels).astype(int), np.concatenate(scores), threshold=0.5
        )
        out = {k: float(v) for k, v in result.items() if isinstance(v, (int, float, np.floating, np.integer))}
    elif task == "blockcnn":
        refs, tests = [], []
        for b in data.batches(batch_size):
            pred = model(b.input.to(device)).cpu()
            losses.append(float(nn.functional.l1_loss(pred, b.target)))
            weights.append(len(b.target))
            refs.append(_to_uint8(b.target))
            tests.append(_to_uint8(pred))
        # one PSNR over all centre blocks (stacked into a tall image): the MSE is pooled, so
        # a block restored exactly does not make the mean infinite
        ref, test = np.concatenate(refs).reshape(-1, 8, 3), np.concatenate(tests).reshape(-1, 8, 3)
        out = {"psnr": float(metrics.psnr(ref, test, data_range=255))}
    else:
        per_image: dict[str, list[float]] = {}
        for b in data.batches(batch_size):
            pred = model(b.input.to(device)).cpu()
            losses.append(float(nn.functional.l1_loss(pred, b.target)))
            weights.append(len(b.target))
            refs, tests = _to_uint8(b.target), _to_uint8(pred)
            for i in range(len(refs)):
                if task == "inpaint":
                    mask = b.mask[i, 0].numpy() > 0.5  # type: ignore[index]
                    scores = metrics.masked_metrics(refs[i], tests[i], mask, data_range=255)
                    per_image.setdefault("psnr_hole", []).append(float(scores["psnr_hole"]))
                per_image.setdefault("psnr", []).append(float(metrics.psnr(refs[i], tests[i], data_range=255)))
                per_image.setdefault("ssim", []).append(float(metrics.ssim(refs[i], tests[i], data_range=255)))
        out = {k: float(np.mean(v)) for k, v in per_image.items()}
    out["val_loss"] = float(np.average(losses, weights=weights))
    return out
