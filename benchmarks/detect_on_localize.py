"""A whole-image detector (a ``detect`` ONNX model) on a ``localize`` dataset, as one decision per image.

The ``localize`` recipe's images without a region are clean photos, half of them with a drawn
hard-negative pattern (tiles, brick, fence, grid, halftone, screentone, text, flat graphics):
the share a detector calls "pixelated" is its false-positive rate on each kind. On images with
regions the share it flags is its image-level recall, broken down by how many regions there are.
The detector is fed as ``pixbench evaluate`` feeds it (its props, its crop rule for fixed sizes)
and its probability is thresholded at 0.5.

    python benchmarks/detect_on_localize.py leaderboards/models/grid-detector.onnx DATASET [--split test]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

from pixbench.datasets import open_dataset
from pixbench.evaluate.detect import resolve_output, to_probability
from pixbench.runtime import Runner, load_model, resolve_spec


def decisions(model_path: str, dataset_path: str, split: str) -> dict[str, dict[str, float]]:
    """Per group (``negative:<kind>`` or ``regions:<n>``): images, share flagged, mean probability."""
    model = load_model(model_path)
    spec = resolve_spec(model, "detect")
    runner = Runner(model, spec)
    names, raws = [], []
    for sample in open_dataset(dataset_path).split(split):
        raws.append(runner.detect_raw(sample.input).astype(np.float64))
        kind = sample.meta.get("negative_kind", "")
        names.append(f"negative:{kind}" if kind else f"regions:{sample.meta.get('regions')}")
    output = resolve_output(spec.output, raws)  # as `pixbench evaluate` reads the model
    groups: dict[str, list[float]] = defaultdict(list)
    for name, raw in zip(names, raws):
        groups[name].append(float(to_probability(raw, output).mean()))
    return {
        name: {"images": len(ps), "flagged": float(np.mean(np.array(ps) >= 0.5)), "mean_p": float(np.mean(ps))}
        for name, ps in sorted(groups.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("--split", default="test")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    out = decisions(args.model, args.dataset, args.split)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    negatives = [v for k, v in out.items() if k.startswith("negative:")]
    print(f"{'group':<22} {'images':>6} {'flagged':>8} {'mean p':>7}")
    for name, v in out.items():
        print(f"{name:<22} {v['images']:>6} {v['flagged']:>8.1%} {v['mean_p']:>7.3f}")
    if negatives:
        fp = sum(v["flagged"] * v["images"] for v in negatives) / sum(v["images"] for v in negatives)
        print(f"false-positive rate on images without regions: {fp:.1%}")


if __name__ == "__main__":
    main()
