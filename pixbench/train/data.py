"""Turn a dataset split into training batches for one model's input kind.

Samples are read through :mod:`pixbench.datasets` on demand (PNG decode per batch),
randomly cropped for training (offsets aligned to the JPEG or pixelation grid so a
crop keeps the degradation's structure) and stacked into float tensors in [0, 1].
All randomness comes from a ``numpy.random.Generator`` the caller seeds per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from pixbench.datasets import DatasetSplit
from pixbench.errors import DatasetError
from pixbench.models import ModelSpec


@dataclass
class Batch:
    """A stacked batch. ``target`` is ``(N, 1)`` labels for detectors, images otherwise.

    ``mask`` is ``(N, 1, H, W)`` (1 = hole) for inpainting, else ``None``.
    """

    input: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor | None = None


def _chw(image: np.ndarray) -> torch.Tensor:
    """``HxWxC`` (or ``HxW``) uint8 -> ``CxHxW`` float32 in [0, 1]."""
    arr = image[..., None] if image.ndim == 2 else image
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float().div_(255.0)


def _crop_box(h: int, w: int, crop: int, align: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A random ``crop``-sized window with offsets on multiples of ``align`` (whole image if smaller)."""
    ch, cw = min(crop, h), min(crop, w)
    y = int(rng.integers(0, (h - ch) // align + 1)) * align
    x = int(rng.integers(0, (w - cw) // align + 1)) * align
    return y, x, ch, cw


class SplitBatches:
    """Batches of one split for one model.

    Args:
        split: The dataset split to read.
        spec: The model's registry entry (input kind, crop alignment).
        crop: Side of random training crops (``None``: whole samples).
        scale: Upscale factor of a ``lowres`` model.
    """

    def __init__(self, split: DatasetSplit, spec: ModelSpec, *, crop: int | None, scale: int | None = None) -> None:
        self.split = split
        self.spec = spec
        self.crop = crop
        self.scale = scale
        if spec.input_kind == "triplet":
            x, y = split.triplets()
            self._triplets: tuple[np.ndarray, np.ndarray] | None = (x, y)
            self._n = len(x)
        else:
            self._triplets = None
            self._n = len(split)
        self._rows = np.arange(self._n)
        if spec.input_kind == "lowres" and "factor" in split.metadata:
            # a low-resolution model learns one factor: it trains on that factor's samples only
            factors = pd.to_numeric(split.metadata["factor"], errors="coerce").to_numpy()
            self._rows = np.flatnonzero(factors == scale)
            self._n = len(self._rows)
        if self._n == 0:
            what = f"samples of factor {scale}" if spec.input_kind == "lowres" else "samples"
            raise DatasetError(f"{split.root}: split {split.name!r} has no {what}; nothing to train or validate on")

    def __len__(self) -> int:
        return self._n

    def _item(self, index: int, rng: np.random.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self._triplets is not None:
            x, y = self._triplets
            return _chw(np.asarray(x[index])), _chw(np.asarray(y[index])), None
        s = self.split[int(self._rows[index])]
        kind = self.spec.input_kind
        if kind == "full" and s.label is not None:  # detection
            image = s.input
            if rng is not None and self.crop:
                y0, x0, ch, cw = _crop_box(*image.shape[:2], self.crop, 1, rng)
                image = image[y0 : y0 + ch, x0 : x0 + cw]
            return _chw(image), torch.tensor([float(s.label)]), None
        if s.target is None:
            raise DatasetError(f"{self.split.root}: sample {s.sample_id} has no target image")
        if kind == "lowres":
            if s.lowres is None:
                raise DatasetError(f"{self.split.root}: sample {s.sample_id} has no lowres image")
            small, target = s.lowres, s.target
            scale = int(self.scale or 1)
            if rng is not None and self.crop:
                y0, x0, ch, cw = _crop_box(*small.shape[:2], max(1, self.crop // scale), 1, rng)
                small = small[y0 : y0 + ch, x0 : x0 + cw]
                target = target[y0 * scale : (y0 + ch) * scale, x0 * scale : (x0 + cw) * scale]
            return _chw(small), _chw(target), None
        inp, target = s.input, s.target
        mask = None if s.mask is None else s.mask.astype(np.uint8) * 255
        if rng is not None and self.crop:
            align = self.spec.crop_align or int(s.meta.get("factor") or 1)
            y0, x0, ch, cw = _crop_box(*inp.shape[:2], self.crop, max(1, align), rng)
            inp, target = inp[y0 : y0 + ch, x0 : x0 + cw], target[y0 : y0 + ch, x0 : x0 + cw]
            mask = None if mask is None else mask[y0 : y0 + ch, x0 : x0 + cw]
        x = _chw(inp)
        m = None if mask is None else _chw(mask)
        if kind == "masked":
            if m is None:
                raise DatasetError(f"{self.split.root}: sample {s.sample_id} has no hole mask")
            x = torch.cat([x, m], dim=0)
        return x, _chw(target), m

    def batches(self, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[Batch]:
        """Yield batches: shuffled and cropped when ``rng`` is given, in order and whole otherwise.

        Consecutive samples of different sizes go into separate batches, so whole-image
        validation works on datasets whose images differ in size.
        """
        order = rng.permutation(self._n) if rng is not None else np.arange(self._n)
        pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
        for index in order:
            item = self._item(int(index), rng)
            if pending and (item[0].shape != pending[0][0].shape or item[1].shape != pending[0][1].shape):
                yield _stack(pending)
                pending = []
            pending.append(item)
            if len(pending) == batch_size:
                yield _stack(pending)
                pending = []
        if pending:
            yield _stack(pending)


def _stack(items: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]) -> Batch:
    masks = [m for _, _, m in items]
    return Batch(
        input=torch.stack([x for x, _, _ in items]),
        target=torch.stack([y for _, y, _ in items]),
        mask=None if masks[0] is None else torch.stack(masks),  # type: ignore[arg-type]
    )
