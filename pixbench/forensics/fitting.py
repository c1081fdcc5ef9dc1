"""Fitting the shipped detector from tuning images (BSD68 and scikit-image photos).

``python -m pixbench.forensics.fitting BSD68_DIR -o PARAMS.npz`` regenerates
:data:`PARAMS_PATH`; Kodak and Set14 are never used here (they are test sources).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pixbench.forensics import features as F
from pixbench.forensics import synthetic as S
from pixbench.forensics.detector import DetectorParams, fit_detector

#: The fitted parameters shipped with pixbench (a few kB).
PARAMS_PATH = Path(__file__).with_name("grid_detector.npz")


def sample_features(images: list[np.ndarray], n: int, seed: int, *, size: int = 256) -> tuple[np.ndarray, list[S.Sample]]:
    """Features of ``n`` balanced synthetic samples (see :func:`pixbench.forensics.synthetic.make_samples`)."""
    samples = S.make_samples(images, n, np.random.default_rng(seed), size=size)
    return np.stack([F.extract_features(s.image) for s in samples]), samples


def fit_from_images(images: list[np.ndarray], *, n_train: int = 8000, n_tune: int = 2000, seed: int = 0) -> DetectorParams:
    """Fit the detector on samples of ``images``, the temperature on samples of other images.

    The images are split by index (every fifth image is for tuning), so the
    temperature is fitted on crops of photos the MLP has not seen.
    """
    if len(images) < 5:
        raise ValueError(f"images: need at least 5 tuning images, got {len(images)}")
    tune_imgs = images[::5]
    train_imgs = [im for i, im in enumerate(images) if i % 5]
    x, train = sample_features(train_imgs, n_train, seed)
    xt, tune = sample_features(tune_imgs, n_tune, seed + 1)
    return fit_detector(x, np.array([s.label for s in train]), xt, np.array([s.label for s in tune]), seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bsd68", type=Path, help="folder of BSD68 images (tuning source)")
    parser.add_argument("-o", "--output", type=Path, default=PARAMS_PATH)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images = S.load_folder(args.bsd68) + S.skimage_photos()
    params = fit_from_images(images, seed=args.seed)
    params.save(args.output)
    print(f"wrote {args.output} (temperature {params.temperature:.3f})")


if __name__ == "__main__":
    main()
