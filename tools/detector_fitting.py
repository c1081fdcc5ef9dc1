"""Fitting the shipped detector from tuning images (BSD68 and scikit-image photos).

:func:`fit_from_images` makes balanced synthetic samples
(:mod:`detector_samples`), fits the MLP on their features
(:func:`fit_detector`, with torch) and its temperature on samples of held-out
images (:func:`fit_temperature`). ``tools/fit_grid_detector.py BSD68_DIR``
regenerates :data:`~pixbench.forensics.detector.PARAMS_PATH`; Kodak and Set14
are never used here (they are test sources). Needs the ``train`` extra (torch).
"""

from __future__ import annotations

from pathlib import Path

import detector_samples as S
import numpy as np

from pixbench.forensics import features as F
from pixbench.forensics.detector import DetectorParams
from pixbench.tasks import get_task

#: Hidden layer widths of the MLP.
HIDDEN = (32, 32)


def sample_features(
    images: list[np.ndarray], n: int, seed: int, *, size: int = 256
) -> tuple[np.ndarray, list[S.Sample]]:
    """Features of ``n`` balanced synthetic samples (see :func:`detector_samples.make_samples`)."""
    samples = S.make_samples(images, n, np.random.default_rng(seed), size=size)
    return np.stack([F.extract_features(s.image) for s in samples]), samples


def fit_from_images(
    images: list[np.ndarray], *, n_train: int = 8000, n_tune: int = 2000, seed: int = 0, datasets: list[str | Path] = ()
) -> DetectorParams:
    """Fit the detector on samples of ``images``, the temperature on samples of other images.

    The images are split by index (every fifth image is for tuning), so the
    temperature is fitted on crops of photos the MLP has not seen. Samples of built
    ``datasets`` join them: their ``train`` split the fit, their other splits (other
    photos, by the recipe's split) the temperature.
    """
    if len(images) < 5:
        raise ValueError(f"images: need at least 5 tuning images, got {len(images)}")
    tune_imgs = images[::5]
    train_imgs = [im for i, im in enumerate(images) if i % 5]
    x, train = sample_features(train_imgs, n_train, seed)
    xt, tune = sample_features(tune_imgs, n_tune, seed + 1)
    y, yt = np.array([s.label for s in train]), np.array([s.label for s in tune])
    if datasets:
        dx, dy = dataset_features(list(datasets), ("train",))
        tx, ty = dataset_features(list(datasets), ("val", "test"))
        x, y, xt, yt = (
            np.concatenate([x, dx]),
            np.concatenate([y, dy]),
            np.concatenate([xt, tx]),
            np.concatenate([yt, ty]),
        )
    return fit_detector(x, y, xt, yt, seed=seed)


def dataset_features(roots: list[str | Path], splits: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every sample in ``splits`` of the built ``detect`` datasets at ``roots``.

    Recipe-built samples (``detect``, ``detect-hard``) bring the negatives synthetic
    samples lack: JPEG at any grid phase, double JPEG, shrunk then compressed, and smooth
    crops of compressed photos.
    """
    from pixbench.datasets import open_dataset

    feats, labels = [], []
    for root in roots:
        ds = open_dataset(root)
        if get_task(ds.task).restores:  # the fit needs each sample's label
            raise ValueError(f"{root}: a {ds.task!r} dataset; the detector is fitted on 'detect' datasets")
        for name in splits:
            if name in ds.splits:
                for s in ds.split(name):
                    feats.append(F.extract_features(s.input))
                    labels.append(int(s.label))
    if not feats:
        return np.zeros((0, F.N_FEATURES)), np.zeros(0, dtype=int)
    return np.stack(feats), np.array(labels, dtype=int)


def fit_detector(
    feats: np.ndarray,
    labels: np.ndarray,
    tune_feats: np.ndarray,
    tune_labels: np.ndarray,
    *,
    seed: int = 0,
    steps: int = 1500,
) -> DetectorParams:
    """Fit the MLP on ``feats`` and its temperature on the held-out ``tune_feats``.

    Args:
        feats: ``(N, 34)`` training features; labels: 1 pixelated, 0 clean.
        tune_feats: Held-out features (other images) for the temperature.
        seed: Seed of the weight initialisation.
        steps: Full-batch Adam steps (the set is small; 1500 take seconds).
    """
    import torch  # the train extra: fitting is never on the evaluate-time path

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
        mean=mean,
        scale=scale,
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
