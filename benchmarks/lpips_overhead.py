#!/usr/bin/env python3
"""What LPIPS adds to ``pixbench evaluate``: the Kodak depixelation table scored with and without it.

Every model of the published ``depixelate-nearest`` table on Kodak (``--factor 4``, 70 samples of
256x256, the settings of ``leaderboards/results/COMMANDS.md``) is evaluated twice, as the table was
made: one ``pixbench evaluate`` process per model, once with ``--no-lpips`` and once with
``--lpips``, alternating, in ``--repeats`` rounds. With LPIPS, evaluate builds the metric and scores
every sample's output and degraded input against the target. The target's features and the
degraded input's distance are the same for every model, so evaluate keeps them in the dataset's
``.cache/lpips`` (``pixbench/evaluate/lpips_cache.py``): the first model's run with LPIPS fills it,
and every later run puts only the model's output through the network.

Two ratios are printed, each the table's total time with LPIPS over its time without: the first
round's (the cache empty when it starts, as when a table is made for the first time) and the best
round's per model (the cache filled), each by the wall clock and by the CPU time (user + system) of
the evaluate processes, which another job on a shared machine disturbs far less. The target is at
most 1.25 for the table.

A second part times the pieces in this process: ``LPIPS()`` (finding, checking and loading the
backbone, building the engine), one sample's two distances between 256x256 images as the metric
computes them alone, and the same with the target's features kept (one network run).

The LPIPS backbone must be on the machine (``docs/metrics.md``); the dataset is built from
``../shared/datasets/kodak`` into a temporary folder, or copied there from ``--dataset`` (so that its
LPIPS cache starts empty and the original is left as it is).

    python benchmarks/lpips_overhead.py [--dataset DIR] [--kodak DIR] [--repeats 2] [--no-speed]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def evaluate_once(model: Path, dataset: Path, out: Path, *, lpips: bool, speed: bool) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one ``pixbench evaluate`` process, as the table's commands
    ran it. On a machine shared with other jobs the CPU seconds swing far less than the wall clock."""
    command = [sys.executable, "-m", "pixbench", "evaluate", str(model), "-d", str(dataset), "--split", "test"]
    command += ["--factor", "4", "-o", str(out), "--lpips" if lpips else "--no-lpips"]
    command += [] if speed else ["--no-speed"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if lpips:
        metrics = json.loads(out.read_text(encoding="utf-8"))["metrics"]
        if metrics["model"].get("lpips") is None:
            raise SystemExit(f"LPIPS was not computed: {metrics.get('lpips_note')}")
    return seconds, cpu


def time_table(models: list[Path], dataset: Path, work: Path, *, repeats: int, speed: bool) -> dict:
    """(wall, CPU) seconds per model and side, one list entry per round; the table is run round after round."""
    times = {m.stem: {"without": [], "with": []} for m in models}
    for round_ in range(repeats):
        for model in models:
            sides = times[model.stem]
            for side in sides:
                out = work / f"{model.stem}-{side}.json"
                sides[side].append(evaluate_once(model, dataset, out, lpips=side == "with", speed=speed))
            (wall0, cpu0), (wall1, cpu1) = sides["without"][-1], sides["with"][-1]
            print(
                f"  round {round_ + 1} {model.stem:>22}: without {wall0:6.2f} s ({cpu0:6.2f} s CPU), "
                f"with {wall1:6.2f} s ({cpu1:6.2f} s CPU)"
            )
    return times


def ratio_lines(name: str, without: tuple[float, float], with_: tuple[float, float]) -> str:
    lines = []
    for i, clock in enumerate(("wall clock", "CPU time")):
        ratio = with_[i] / without[i]
        lines.append(
            f"  {name}, {clock}: {without[i]:7.2f} s without, {with_[i]:7.2f} s with: ratio {ratio:.3f} "
            f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})"
        )
    return "\n".join(lines)


def table_total(times: dict, side: str, pick) -> tuple[float, float]:
    """The table's (wall, CPU) seconds on one side, each model's round chosen by ``pick``."""
    chosen = [pick(t[side]) for t in times.values()]
    return sum(c[0] for c in chosen), sum(c[1] for c in chosen)


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
    if metric.reusable_features:
        kept = metric.features(target)
        runs = []
        for _ in range(20):
            t = time.perf_counter()
            metric.distance_to(kept, output)
            runs.append(time.perf_counter() - t)
        print(
            f"  one sample with the target's features and the degraded distance kept (one network run): "
            f"{1000 * min(runs):.1f} ms best, {1000 * float(np.median(runs)):.1f} ms median of {len(runs)}"
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
        dataset = work / "depixelate-nearest-kodak"
        if args.dataset:
            shutil.copytree(args.dataset, dataset, ignore=shutil.ignore_patterns(".cache"))
        else:
            build(args.kodak, dataset)
        print(
            f"depixelate-nearest on Kodak, --factor 4, {len(models)} models, {args.repeats} rounds, "
            f"speed {'on' if args.speed else 'off'}, {os.cpu_count()} CPUs"
        )
        times = time_table(models, dataset, work, repeats=args.repeats, speed=args.speed)

    def first(runs):
        return runs[0]

    def best(runs):
        return min(runs)  # the fastest wall clock, with its CPU time

    for name, pick in (("first round (LPIPS cache empty at its start)", first), (f"best of {args.repeats}", best)):
        print(ratio_lines(f"table, {name}", table_total(times, "without", pick), table_total(times, "with", pick)))
    print("in this process:")
    time_pieces()


if __name__ == "__main__":
    main()
