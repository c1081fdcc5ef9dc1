"""Turn a dataset split into training batches for one model's input kind.

Samples are read through :mod:`pixbench.datasets` and kept decoded in memory (up to
:data:`CACHE_BYTES`), so later epochs do not decode the PNGs again. For training they are
randomly cropped (offsets aligned to the JPEG or pixelation grid so a crop keeps the
degradation's structure), transformed by a random grid-safe flip or rotation
(:mod:`~pixbench.train.augment`), and stacked into float tensors in [0, 1]. All randomness
comes from a ``numpy.random.Generator`` the caller seeds per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from pixbench.datasets import DatasetSplit, Sample
from pixbench.errors import DatasetError
from pixbench.models import ModelSpec
from pixbench.train.augment import dihedral, random_dihedral

#: Decoded samples are kept in memory until they take this many bytes; later ones are decoded each time.
CACHE_BYTES = 2 * 1024**3


@dataclass
class Batch:
    """A stacked batch. ``target`` is ``(N, 1)`` labels for detectors, ``(N, 1, H, W)`` masks in {0, 1}
    for segmenters (1 = mosaicked pixel), images otherwise.

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
        factor: The one pixelation factor the model learns (a ``lowres`` model's ``scale``, a
            ``grid`` model's block size): only samples of that factor are used. ``None``: all.
        quality: The one JPEG quality the model learns (``jpeg`` and ``jpeg-gray`` datasets mix
            qualities): only samples of that quality are used. ``None``: all.
        augment: Apply a random grid-safe dihedral transform to each training sample.
        cache_bytes: Keep decoded samples in memory up to this many bytes (0: no cache).
        context_targets: Triplets: the target is the clean ``24x24`` context
            (:meth:`~pixbench.datasets.DatasetSplit.triplet_contexts`), not its centre block.
    """

    def __init__(
        self,
        split: DatasetSplit,
        spec: ModelSpec,
        *,
        crop: int | None,
        factor: int | None = None,
        quality: int | None = None,
        augment: bool = False,
        cache_bytes: int = CACHE_BYTES,
        context_targets: bool = False,
    ) -> None:
        self.split = split
        self.spec = spec
        self.crop = crop
        self.factor = factor
        self.augment = augment
        self.cache_bytes = cache_bytes
        self._cache: dict[int, Sample] = {}
        self._cached_bytes = 0
        if spec.input_kind == "triplet":
            x, y = split.triplets()
            self._triplets: tuple[np.ndarray, np.ndarray] | None = (
                x,
                split.triplet_contexts() if context_targets else y,
            )
            self._n = len(x)
        else:
            self._triplets = None
            self._n = len(split)
        self._rows = np.arange(self._n)
        # a model of one factor (a low-resolution upscaler, a grid model) or of one JPEG quality (a
        # per-quality deblocker) trains on those samples only
        chosen = {name: value for name, value in (("factor", factor), ("quality", quality)) if value is not None}
        for name, value in chosen.items():
            if name in split.metadata:
                values = pd.to_numeric(split.metadata[name], errors="coerce").to_numpy()[self._rows]
                self._rows = self._rows[values == value]
        self._n = len(self._rows)
        if self._n == 0:
            what = " and ".join(f"{name} {value}" for name, value in chosen.items())
            what = f"samples of {what}" if chosen else "samples"
            raise DatasetError(f"{split.root}: split {split.name!r} has no {what}; nothing to train or validate on")

    def __len__(self) -> int:
        return self._n

    def _sample(self, row: int) -> Sample:
        """Sample ``row`` of the split, decoded once while the cache has room."""
        if row in self._cache:
            return self._cache[row]
        s = self.split[row]
        size = sum(a.nbytes for a in (s.input, s.target, s.lowres, s.mask) if a is not None)
        if self._cached_bytes + size <= self.cache_bytes:
            self._cache[row] = s
            self._cached_bytes += size
        return s

    def _transform(self, rng: np.random.Generator | None, h: int, w: int, align: int) -> int:
        """A random grid-safe dihedral element when augmenting a training sample, else the identity."""
        return random_dihedral(rng, h, w, align) if rng is not None and self.augment else 0

    def _item(
        self, index: int, rng: np.random.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self._triplets is not None:
            x, y = np.asarray(self._triplets[0][index]), np.asarray(self._triplets[1][index])
            # the 8x8 centre sits in the middle of the 24x24 context: any dihedral element maps it (and the
            # whole context) onto itself
            k = self._transform(rng, *x.shape[:2], 8)
            x, y = dihedral(x, k), dihedral(y, k)
            return _chw(x), _chw(y), None
        s = self._sample(int(self._rows[index]))
        kind = self.spec.input_kind
        if self.spec.output == "mask":
            return self._mask_item(s, rng)
        if kind == "full" and s.label is not None:  # detection
            image = s.input
            if rng is not None and self.crop:
                y0, x0, ch, cw = _crop_box(*image.shape[:2], self.crop, 1, rng)
                image = image[y0 : y0 + ch, x0 : x0 + cw]
            image = dihedral(image, self._transform(rng, *image.shape[:2], 1))
            return _chw(image), torch.tensor([float(s.label)]), None
        if s.target is None:
            raise DatasetError(f"{self.split.root}: sample {s.sample_id} has no target image")
        if kind == "lowres":
            if s.lowres is None:
                raise DatasetError(f"{self.split.root}: sample {s.sample_id} has no lowres image")
            small, target = s.lowres, s.target
            scale = int(self.factor or 1)
            if rng is not None and self.crop:
                y0, x0, ch, cw = _crop_box(*small.shape[:2], max(1, self.crop // scale), 1, rng)
                small = small[y0 : y0 + ch, x0 : x0 + cw]
                target = target[y0 * scale : (y0 + ch) * scale, x0 * scale : (x0 + cw) * scale]
            # one low-resolution pixel is one scale x scale block of the target: the same element keeps them paired
            k = self._transform(rng, *small.shape[:2], 1)
            return _chw(dihedral(small, k)), _chw(dihedral(target, k)), None
        inp, target = s.input, s.target
        mask = None if s.mask is None else s.mask.astype(np.uint8) * 255
        align = max(1, self.spec.crop_align or int(s.meta.get("factor") or 1))
        if rng is not None and self.crop:
            y0, x0, ch, cw = _crop_box(*inp.shape[:2], self.crop, align, rng)
            inp, target = inp[y0 : y0 + ch, x0 : x0 + cw], target[y0 : y0 + ch, x0 : x0 + cw]
            mask = None if mask is None else mask[y0 : y0 + ch, x0 : x0 + cw]
        k = self._transform(rng, *inp.shape[:2], align)
        inp, target = dihedral(inp, k), dihedral(target, k)
        x = _chw(inp)
        m = None if mask is None else _chw(dihedral(mask, k))
        if kind == "masked":
            if m is None:
                raise DatasetError(f"{self.split.root}: sample {s.sample_id} has no hole mask")
            x = torch.cat([x, m], dim=0)
        return x, _chw(target), m

    def _mask_item(self, s: Sample, rng: np.random.Generator | None) -> tuple[torch.Tensor, torch.Tensor, None]:
        """A segmenter's pair: the image and its ground-truth mask, cropped and transformed alike."""
        if s.mask is None:
            raise DatasetError(
                f"{self.split.root}: sample {s.sample_id} has no mask to learn (a localize dataset has one)"
            )
        image, mask = s.input, s.mask.astype(np.uint8)
        if rng is not None and self.crop:
            y0, x0, ch, cw = _crop_box(*image.shape[:2], self.crop, max(1, self.spec.crop_align), rng)
            image, mask = image[y0 : y0 + ch, x0 : x0 + cw], mask[y0 : y0 + ch, x0 : x0 + cw]
        k = self._transform(rng, *image.shape[:2], 1)
        target = torch.from_numpy(np.ascontiguousarray(dihedral(mask, k))).float()[None]
        return _chw(dihedral(image, k)), target, None

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
