"""The detector's classifier: a tiny MLP on the 34 analytic features, and its calibration.

The features (:mod:`pixbench.forensics.features`) already separate pixelated
from clean crops; the MLP only learns how to weigh them, in particular how to
tell JPEG's period-8 blocking (periodic second differences, but no exact zero
runs and a weak modulation) from 8x pixelation. Its logit is then divided by a
temperature fitted on held-out tuning samples, so the output is a calibrated
probability (Guo et al. 2017, "On calibration of modern neural networks").

This module applies, saves and loads fitted parameters with numpy alone (the
evaluate-time path); fitting them is ``tools/detector_fitting.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixbench.errors import ModelError
from pixbench.images import write_bytes_atomic

#: The fitted parameters shipped with pixbench (a few kB).
PARAMS_PATH = Path(__file__).with_name("grid_detector.npz")


@dataclass
class DetectorParams:
    """Everything the classifier needs: feature standardisation, MLP layers, temperature."""

    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray] = field(default_factory=list)
    biases: list[np.ndarray] = field(default_factory=list)
    temperature: float = 1.0

    def logit(self, feats: np.ndarray) -> np.ndarray:
        """Calibrated logits of an ``(N, 34)`` feature array."""
        x = (np.atleast_2d(feats) - self.mean) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w + b
            if i < len(self.weights) - 1:
                x = np.tanh(x)
        return x[:, 0] / self.temperature

    def probability(self, feats: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(feats)))

    def save(self, path: str | Path) -> None:
        """Write the parameters atomically as an ``.npz`` file."""
        import io

        arrays = {"mean": self.mean, "scale": self.scale, "temperature": np.float64(self.temperature)}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> DetectorParams:
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"detector parameters {path}: no such file; fit them with `tools/fit_grid_detector.py`")
        with np.load(path) as z:
            layers = sum(1 for k in z.files if k.startswith("w"))
            return cls(
                mean=z["mean"],
                scale=z["scale"],
                temperature=float(z["temperature"]),
                weights=[z[f"w{i}"] for i in range(layers)],
                biases=[z[f"b{i}"] for i in range(layers)],
            )
