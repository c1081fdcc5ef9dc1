"""How much a detector's answer moves when the image moves by a pixel.

Every sample of a ``detect`` split is cut to 16 windows of side ``S - 3``, one at each offset
``(dy, dx)`` in ``0..3 x 0..3``: the same content, shifted by at most three pixels. A detector
that sees the content and not the position of its own stride (a 4x unshuffle stem has 16 phases)
gives all 16 the same answer. Reported per label (clean, pixelated): the samples, the share
whose 16 decisions at 0.5 disagree (*flips*), the mean spread of the probability (max - min),
the error rate of the window at offset ``(0, 0)``, and the share of samples wrong at one or more
of the 16 offsets (*wrong anywhere*: the flips plus the samples wrong at every offset).

Run it on photos outside the test sources, such as the validation photos of the detectors'
training set (training keeps its best checkpoint by them, so they are not untouched either):

    python benchmarks/detector_shift.py leaderboards/models/detect/sepunet-detector.onnx \\
        leaderboards/work/data/detect-detect-train-bsds400 --split val
"""

from __future__ import annotations

import argparse

import numpy as np

from pixbench.datasets import open_dataset
from pixbench.evaluate.detect import resolve_output, to_probability
from pixbench.runtime import Runner, load_model, resolve_spec

#: Offsets per axis: 0..SHIFTS-1 (a 4x unshuffle stem has 4 phases per axis).
SHIFTS = 4


def shift_scores(model_path: str, dataset_path: str, split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(labels (N,), probabilities (N, SHIFTS**2))`` over the first ``limit`` samples (all: ``None``)."""
    model = load_model(model_path)
    spec = resolve_spec(model, "detect")
    runner = Runner(model, spec)
    labels, raws = [], []
    samples = open_dataset(dataset_path).split(split)
    for index in range(len(samples) if limit is None else min(limit, len(samples))):
        sample = samples[index]
        h, w = sample.input.shape[:2]
        for dy in range(SHIFTS):
            for dx in range(SHIFTS):
                window = sample.input[dy : h - SHIFTS + 1 + dy, dx : w - SHIFTS + 1 + dx]
                raws.append(runner.detect_raw(window).astype(np.float64))
        labels.append(int(sample.label))
    output = resolve_output(spec.output, raws)  # as `pixbench evaluate` reads the model
    probs = [float(to_probability(raw, output).mean()) for raw in raws]
    return np.array(labels), np.array(probs).reshape(len(labels), SHIFTS * SHIFTS)


def summary(labels: np.ndarray, probs: np.ndarray) -> dict[str, dict[str, float]]:
    """Per label: samples, flip share, mean spread, error at offset (0, 0), share wrong at any offset."""
    out = {}
    for label, name in ((0, "clean"), (1, "pixelated")):
        p = probs[labels == label]
        if not len(p):
            continue
        decided = p >= 0.5
        wrong = decided if label == 0 else ~decided
        out[name] = {
            "samples": len(p),
            "flips": float(np.mean(decided.any(axis=1) & ~decided.all(axis=1))),
            "spread": float(np.mean(p.max(axis=1) - p.min(axis=1))),
            "error_at_origin": float(np.mean(wrong[:, 0])),
            "wrong_anywhere": float(np.mean(wrong.any(axis=1))),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a detect ONNX model")
    parser.add_argument("dataset", help="a built detect dataset")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=None, help="score the first N samples only")
    args = parser.parse_args()
    labels, probs = shift_scores(args.model, args.dataset, args.split, args.limit)
    print(f"{args.model} on {args.dataset} ({args.split}), {SHIFTS}x{SHIFTS} offsets")
    print(f"{'label':<10} {'samples':>7} {'flips':>7} {'spread':>7} {'err(0,0)':>9} {'wrong any':>9}")
    for name, v in summary(labels, probs).items():
        print(
            f"{name:<10} {v['samples']:>7} {v['flips']:>7.1%} {v['spread']:>7.3f} "
            f"{v['error_at_origin']:>9.2%} {v['wrong_anywhere']:>9.2%}"
        )


if __name__ == "__main__":
    main()
