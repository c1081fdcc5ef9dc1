"""Throughput of `pixbench build-dataset` against a bare decode + crop + PNG-encode loop.

Both sides process the same source images and write the same number of PNG files
of the same size (the bare loop skips degradations, hashing, metadata and the
fingerprint). Each is timed with 1 and 2 worker processes, in one run, and the
ratios are printed side by side:

    python benchmarks/build_throughput.py [--recipe jpeg] [--source embedded] [--repeat 2]

Targets: builder >= 0.8x the bare loop at equal workers, and >= 1.7x speed-up
from 1 to 2 workers. The machine's load average is printed, because other work
on a shared machine moves these numbers.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from pixbench.builder import build_dataset
from pixbench.images import write_png
from pixbench.recipes import resolve_recipe
from pixbench.sources import SourceItem, load_pixels, open_source
from pixbench.tasks import get_task


def _bare_one(args: tuple[SourceItem, int, int, int, str]) -> int:
    """Decode one image, cut ``per_image`` random crops, write ``files`` PNGs per crop."""
    item, size, per_image, files, out = args
    pixels = load_pixels(item)
    h, w = pixels.shape[:2]
    rng = np.random.default_rng(0)
    for k in range(per_image):
        x, y = int(rng.integers(0, w - size + 1)), int(rng.integers(0, h - size + 1))
        crop = np.ascontiguousarray(pixels[y : y + size, x : x + size])
        for f in range(files):
            write_png(Path(out) / f"{item.source_id.replace('/', '_')}-{k}-{f}.png", crop)
    return 1


def bare_loop(items: list[SourceItem], size: int, per_image: int, files: int, workers: int, out: Path) -> float:
    out.mkdir(parents=True)
    jobs = [(item, size, per_image, files, str(out)) for item in items]
    start = time.perf_counter()
    if workers == 1:
        for job in jobs:
            _bare_one(job)
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.map(_bare_one, jobs, chunksize=1)
    return time.perf_counter() - start


def builder(recipe, source: str, workers: int, out: Path) -> float:
    start = time.perf_counter()
    build_dataset(recipe, out, source=source, workers=workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="jpeg", help="shipped recipe name or path (default: jpeg)")
    parser.add_argument("--source", default=None, help="source spec (default: the recipe's)")
    parser.add_argument("--repeat", type=int, default=2, help="timed rounds; the best of each is reported")
    args = parser.parse_args()
    recipe, _ = resolve_recipe(args.recipe)
    source = args.source or recipe.source
    items = list(open_source(source).items())
    files = len(get_task(recipe.task).files)
    if recipe.task == "depixelate":
        files -= 1  # the lowres image is small; count only the full-size ones
    print(
        f"recipe {recipe.label}, source {source}: {len(items)} images x {recipe.crop.per_image} crops "
        f"of {recipe.crop.size}px, {files} full-size PNG(s) per crop"
    )
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    best: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            for workers in (1, 2):
                for kind in ("bare", "build"):
                    out = Path(tmp) / f"{kind}-{workers}-{round_}"
                    if kind == "bare":
                        seconds = bare_loop(items, recipe.crop.size, recipe.crop.per_image, files, workers, out)
                    else:
                        seconds = builder(recipe, source, workers, out)
                    shutil.rmtree(out)
                    key = (kind, workers)
                    best[key] = min(best.get(key, float("inf")), seconds)
                    print(
                        f"  round {round_ + 1}: {kind:5s} workers={workers}: {seconds:6.2f} s "
                        f"({len(items) / seconds:6.2f} images/s)"
                    )
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rate = {k: len(items) / v for k, v in best.items()}
    print("\nbest of rounds (images/s):")
    print(f"  {'':8s} {'bare':>8s} {'build':>8s} {'build/bare':>11s}")
    for workers in (1, 2):
        ratio = rate[("build", workers)] / rate[("bare", workers)]
        print(
            f"  {workers} worker{'s' if workers > 1 else ' '} {rate[('bare', workers)]:8.2f} "
            f"{rate[('build', workers)]:8.2f} {ratio:10.2f}x   (target >= 0.80x)"
        )
    for kind in ("bare", "build"):
        print(f"  speed-up 1 -> 2 workers, {kind}: {rate[(kind, 2)] / rate[(kind, 1)]:.2f}x   (target >= 1.70x)")


if __name__ == "__main__":
    main()
