#!/usr/bin/env python3
"""What LPIPS adds to ``pixbench evaluate``: the Kodak depixelation table scored with and without it.

Every model of the published ``depixelate-nearest`` table on Kodak (``--factor 4``, 70 samples of
256x256, the settings of ``leaderboards/results/COMMANDS.md``) is evaluated twice, as the table was
made: one ``pixbench evaluate`` process per model, once with ``--lpips`` and once with
``--no-lpips``, alternating, each ``--repeats`` times; the best time of each is kept. With LPIPS,
evaluate builds the metric and scores every sample's output and degraded input against the target
(two LPIPS distances per sample). The target is at most 1.25 times the
table's time without LPIPS.

A second part times the pieces in this process: ``LPIPS()`` (finding, checking and loading the
backbone, building the engine) and one sample's two distances between 256x256 images.

The LPIPS backbone must be on the machine (``docs/metrics.md``); the dataset is built from
``../shared/datasets/kodak`` into a temporary folder unless ``--dataset`` names one already built.

    python benchmarks/lpips_overhead.py [--dataset DIR] [--kodak DIR] [--repeats 2] [--no-speed]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "leaderboards" / "results" / "kodak" / "depixelate-nearest-x4"
MODELS = ROOT / "leaderboards" / "models"
TARGET = 1.25


def table_models() -> list[Path]:
    """The model files of the published table, found beside the leaderboard's other models."""
    found = []
    for result in sorted(TABLE.glob("*.json")):
        doc = json.loads(result.read_text(encoding="utf-8"))
        if doc.get("format") != "pixbench-result":
            continue
        name = doc["model"]["file"]
        candidates = [MODELS / "depixelate-nearest-x4" / name, MODELS / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise SystemExit(f"model file {name} of {result.name} is not in {MODELS}")
        found.append(path)
    return found


def build(kodak: Path, out: Path) -> Path:
    """The table's dataset: the depixelate-nearest recipe on Kodak, every image in the test split."""
    command = [sys.executable, "-m", "pixbench", "build-dataset", "depixelate-nearest", "-o", str(out)]
    command += ["--source", f"kodak:{kodak}", "--split", "test"]
    subprocess.run(command, check=True, capture_output=True)
    return out


def evaluate_once(model: Path, dataset: Path, out: Path, *, lpips: bool, speed: bool) -> float:
    """Seconds of one ``pixbench evaluate`` process, as the table's commands ran it."""
    command = [sys.executable, "-m", "pixbench", "evaluate", str(model), "-d", str(dataset), "--split", "test"]
    command += ["--factor", "4", "-o", str(out), "--lpips" if lpips else "--no-lpips"]
    command += [] if speed else ["--no-speed"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    if lpips:
        metrics = json.loads(out.read_text(encoding="utf-8"))["metrics"]
        if metrics["model"].get("lpips") is None:
            raise SystemExit(f"LPIPS was not computed: {metrics.get('lpips_note')}")
    return seconds


def time_table(models: list[Path], dataset: Path, work: Path, *, repeats: int, speed: bool) -> dict:
    """Best seconds per model and side over ``repeats`` alternating runs."""
    best: dict[str, dict[str, float]] = {}
    for model in models:
        sides = {"with": [], "without": []}
        for _ in range(repeats):
            for side in sides:
                out = work / f"{model.stem}-{side}.json"
                sides[side].append(evaluate_once(model, dataset, out, lpips=side == "with", speed=speed))
        best[model.stem] = {side: min(t) for side, t in sides.items()}
        print(
            f"  {model.stem:>22}: {best[model.stem]['without']:6.2f} s without, {best[model.stem]['with']:6.2f} s with"
        )
    return best


def time_pieces() -> None:
    """Construction and per-sample times of LPIPS in this process, called as evaluate calls it."""
    import onnxruntime  # noqa: F401  (evaluate has it loaded before LPIPS is built)

    from pixbench.metrics import LPIPS

    start = time.perf_counter()
    metric = LPIPS()
    built = time.perf_counter() - start
    engine = "onnxruntime" if metric.model is None else "torch (lpips)"
    rng = np.random.default_rng(0)
    target, output, degraded = (rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(3))
    samples = []
    for i in range(21):
        target[0, 0, 0] = i  # a new target per sample, as in evaluate
        t = time.perf_counter()
        metric(target, output)
        metric(target, degraded)
        samples.append(time.perf_counter() - t)
    samples = samples[1:]
    print(f"  LPIPS(): {built:.2f} s ({engine}, {metric.weights_path})")
    print(
        f"  one sample (output and degraded input against the target, 256x256): "
        f"{1000 * min(samples):.1f} ms best, {1000 * float(np.median(samples)):.1f} ms median of {len(samples)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, help="the table's dataset, already built")
    parser.add_argument("--kodak", type=Path, default=ROOT.parent / "shared" / "datasets" / "kodak")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-speed", dest="speed", action="store_false", help="evaluate with --no-speed")
    args = parser.parse_args()
    models = table_models()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dataset = args.dataset or build(args.kodak, work / "depixelate-nearest-kodak")
        print(
            f"depixelate-nearest on Kodak, --factor 4, {len(models)} models, best of {args.repeats}, "
            f"speed {'on' if args.speed else 'off'}, {os.cpu_count()} CPUs"
        )
        best = time_table(models, dataset, work, repeats=args.repeats, speed=args.speed)
    without = sum(b["without"] for b in best.values())
    with_ = sum(b["with"] for b in best.values())
    ratio = with_ / without
    print(
        f"  {'table':>22}: {without:6.2f} s without, {with_:6.2f} s with: ratio {ratio:.3f} "
        f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})"
    )
    print("in this process:")
    time_pieces()


if __name__ == "__main__":
    main()
