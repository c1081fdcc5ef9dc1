"""The detector's classifier: a tiny MLP on the 34 analytic features, and its calibration.

The features (:mod:`pixbench.forensics.features`) already separate pixelated
from clean crops; the MLP only learns how to weigh them, in particular how to
tell JPEG's period-8 blocking (periodic second differences, but no exact zero
runs and a weak modulation) from 8x pixelation. Its logit is then divided by a
temperature fitted on held-out tuning samples, so the output is a calibrated
probability (Guo et al. 2017, "On calibration of modern neural networks").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixbench.errors import ModelError
from pixbench.forensics import features as F
from pixbench.images import write_bytes_atomic

HIDDEN = (32, 32)


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
            raise ModelError(f"detector parameters {path}: no such file; fit them with `fit_detector`")
        with np.load(path) as z:
            layers = sum(1 for k in z.files if k.startswith("w"))
            return cls(
                mean=z["mean"], scale=z["scale"], temperature=float(z["temperature"]),
                weights=[z[f"w{i}"] for i in range(layers)], biases=[z[f"b{i}"] for i in range(layers)],
            )


def fit_detector(feats: np.ndarray, labels: np.ndarray, tune_feats: np.ndarray, tune_labels: np.ndarray,
                 *, seed: int = 0, steps: int = 1500) -> DetectorParams:
    """Fit the MLP on ``feats`` and its temperature on the held-out ``tune_feats``.

    Args:
        feats: ``(N, 34)`` training features; labels: 1 pixelated, 0 clean.
        tune_feats: Held-out features (other images) for the temperature.
        seed: Seed of the weight initialisation.
        steps: Full-batch Adam steps (the set is small; 1500 take seconds).
    """
    import torch

    if feats.ndim != 2 or feats.shape[1] != F.N_FEATURES or len(feats) != len(labels):
        raise ValueError(f"feats: expected (N, {F.N_FEATURES}) with N labels, got {feats.shape} and {len(labels)}")
    torch.manual_seed(seed)
    mean, scale = feats.mean(0), feats.std(0) + 1e-6
    sizes = (F.N_FEATURES, *HIDDEN, 1)
    layers: list[torch.nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers).double()
    x = torch.tensor((feats - mean) / scale)
    y = torch.tensor(labels, dtype=torch.float64)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x)[:, 0], y)
        loss.backward()
        opt.step()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    params = DetectorParams(
        mean=mean, scale=scale,
        weights=[m.weight.detach().numpy().T.copy() for m in linears],
        biases=[m.bias.detach().numpy().copy() for m in linears],
    )
    params.temperature = fit_temperature(params.logit(tune_feats), tune_labels)
    return params


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood, searched over [0.5, 20].

    The lower bound keeps a perfectly separated tuning set from driving the
    probabilities to hard 0/1 answers.
    """
    grid = np.exp(np.linspace(np.log(0.5), np.log(20.0), 200))
    y = np.asarray(labels, dtype=np.float64)

    def nll(t: float) -> float:
        z = logits / t
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    return float(min(grid, key=nll))
