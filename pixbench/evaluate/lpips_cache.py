"""LPIPS for ``evaluate`` without recomputing what every model of a table shares.

Each restoration sample is scored twice with LPIPS (the model's output and the degraded input,
both against the clean target), and a table evaluates many models on one dataset. Two of those
three network runs per sample give the same answer for every model: the target's features and the
degraded input's distance. :class:`SampleLPIPS` keeps both per dataset sample in
``<dataset>/.cache/lpips/<engine>/<fingerprint>/<sample id>.npz``, outside the split folders, so
the dataset's manifest and fingerprint do not see it. Only the model's output then goes through
the network.

An entry is used only when the target's bytes hash to the SHA-256 it records (and the degraded
input's to its own), and the folder names the LPIPS engine (backbone file hash, onnxruntime
version), so a stale or foreign entry is recomputed, never trusted. The distances are exactly those
of ``metric(target, image)``: the same features go through the same arithmetic. The cache can be
deleted at any time; a dataset folder that cannot be written to is scored without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The cache's folder inside a dataset folder.
CACHE_DIR = Path(".cache") / "lpips"


def image_sha256(image: np.ndarray) -> str:
    """SHA-256 of an image's shape, dtype and pixels."""
    arr = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{arr.shape} {arr.dtype}\n".encode())
    digest.update(arr.data)
    return digest.hexdigest()


@dataclass
class _Entry:
    """One sample: its target's hash and features, and the degraded input's hash and distance once known."""

    sample_id: str
    target_sha256: str
    features: list[np.ndarray]
    degraded_sha256: str = ""
    degraded_lpips: float = float("nan")


class SampleLPIPS:
    """LPIPS per dataset sample, with the target's features and the degraded input's distance cached.

    Args:
        metric: A :class:`pixbench.metrics.LPIPS` whose ``reusable_features`` is True.
        folder: Where the entries of this dataset go (see :func:`cache_folder`), or None for memory only.
    """

    def __init__(self, metric, folder: Path | None) -> None:
        self.metric = metric
        self.folder = folder
        self._entry: _Entry | None = None

    def distance(self, sample_id: str, target: np.ndarray, test: np.ndarray, *, degraded: bool) -> float:
        """``metric(target, test)`` for the sample ``sample_id``; ``degraded`` says ``test`` is its degraded input."""
        if not self.metric.reusable_features:  # the torch engine: nothing to keep
            return float(self.metric(target, test))
        entry = self._current(sample_id, target)
        if not degraded:
            return self.metric.distance_to(entry.features, test)
        sha = image_sha256(test)
        if sha != entry.degraded_sha256:
            entry.degraded_sha256, entry.degraded_lpips = sha, self.metric.distance_to(entry.features, test)
            self._save(entry)
        return entry.degraded_lpips

    def _current(self, sample_id: str, target: np.ndarray) -> _Entry:
        sha = image_sha256(target)
        entry = self._entry
        if entry is None or entry.sample_id != sample_id or entry.target_sha256 != sha:
            entry = self._load(sample_id, sha)
            if entry is None:
                entry = _Entry(sample_id, sha, self.metric.features(target))
                self._save(entry)
            self._entry = entry
        return entry

    def _path(self, sample_id: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{sample_id}.npz"

    def _load(self, sample_id: str, target_sha256: str) -> _Entry | None:
        path = self._path(sample_id)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                features = [data[f"f{i}"] for i in range(meta["layers"])]
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return None  # unreadable or half-written: recomputed and written again
        if meta.get("target_sha256") != target_sha256:
            return None
        return _Entry(sample_id, target_sha256, features, meta.get("degraded_sha256", ""), meta["degraded_lpips"])

    def _save(self, entry: _Entry) -> None:
        path = self._path(entry.sample_id)
        if path is None:
            return
        meta = {
            "target_sha256": entry.target_sha256,
            "layers": len(entry.features),
            "degraded_sha256": entry.degraded_sha256,
            "degraded_lpips": entry.degraded_lpips,
        }
        arrays = {f"f{i}": f for i, f in enumerate(entry.features)}
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
            os.replace(tmp, path)
        except OSError:
            # A dataset folder that cannot be written to is scored without the cache; the values are the same.
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            self.folder = None


def cache_folder(dataset_root: Path, fingerprint: str, engine: str) -> Path:
    """``<dataset>/.cache/lpips/<engine>/<fingerprint hex>``: one folder per LPIPS engine and dataset content."""
    hexdigest = fingerprint.split(":", 1)[-1]
    return dataset_root / CACHE_DIR / engine / hexdigest[:32]
