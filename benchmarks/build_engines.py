"""`build-dataset --engine local` against `--engine ray` on one machine, and the Ray driver's memory.

Both engines build the same recipe from the same folder of generated photos, with the
same number of CPUs, each in a fresh process; the fingerprints must agree. Ray is timed
twice: the whole command (its local instance starts and stops inside) and the build
alone (a Ray started beforehand, which is what a long build on a cluster sees). The
driver's peak resident memory (``getrusage`` maxrss of the process that calls
``build_dataset``; Ray's own daemons and workers are other processes) is measured at
two source sizes: it should stay flat, because the driver holds at most ``2 x CPUs``
shards of item descriptions, never pixels.

    python benchmarks/build_engines.py [--images 16 64] [--workers 2] [--shard-size 8] [--recipe jpeg]

Target: Ray's build alone within 1.3x the local engine's time on one node. The
machine's load average is printed, because other work on a shared machine moves these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def photos(folder: Path, n: int, side: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:side, 0:side]
        base = np.stack([xx * 255 / side, yy * 255 / side, (xx + yy) * 127 / (2 * side) + 40 * (i % 3)], -1)
        pixels = np.clip(base + rng.normal(0, 12, (side, side, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i:04d}.png")
    return folder


def child(engine: str, recipe: str, src: str, out: str, workers: int, shard_size: int, prestart: bool) -> None:
    """One build in this process; prints seconds, fingerprint and the driver's peak memory as JSON."""
    from pixbench.builder import build_dataset
    from pixbench.recipes import resolve_recipe

    parsed, _ = resolve_recipe(recipe)
    extra = {"engine": "ray", "shard_size": shard_size} if engine == "ray" else {}
    if prestart:
        import ray

        ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    result = build_dataset(parsed, out, source=f"folder:{src}", workers=workers, **extra)
    seconds = time.perf_counter() - started
    if prestart:
        ray.shutdown()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "fingerprint": result.info["fingerprint"],
                "images": result.processed,
                "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run(engine: str, args: argparse.Namespace, src: Path, out: Path, prestart: bool = False) -> dict:
    wall = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            engine,
            str(src),
            str(out),
            str(int(prestart)),
            "--recipe",
            args.recipe,
            "--workers",
            str(args.workers),
            "--shard-size",
            str(args.shard_size),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--side", type=int, default=384)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-size", type=int, default=8)
    parser.add_argument("--recipe", default="jpeg")
    parser.add_argument("--child", nargs=4, metavar=("ENGINE", "SRC", "OUT", "PRESTART"))
    args = parser.parse_args()
    if args.child:
        engine, src, out, prestart = args.child
        child(engine, args.recipe, src, out, args.workers, args.shard_size, prestart == "1")
        return
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; recipe {args.recipe}, "
        f"{args.side}x{args.side} photos, {args.workers} workers, shard size {args.shard_size}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in args.images:
            src = photos(root / f"src{n}", n, args.side)
            local = run("local", args, src, root / f"local{n}")
            whole = run("ray", args, src, root / f"ray{n}")
            alone = run("ray", args, src, root / f"ray-pre{n}", prestart=True)
            same = local["fingerprint"] == whole["fingerprint"] == alone["fingerprint"]
            print(
                f"{n:4d} images: local {n / local['seconds']:6.1f} img/s | ray build alone "
                f"{n / alone['seconds']:6.1f} img/s (x{alone['seconds'] / local['seconds']:.2f} the local time) | "
                f"ray with its start and stop {n / whole['wall']:6.1f} img/s (x{whole['wall'] / local['wall']:.2f}) "
                f"| driver peak RSS local {local['maxrss_mib']:.0f} MiB, ray {whole['maxrss_mib']:.0f} MiB | "
                f"fingerprints {'equal' if same else 'DIFFER'}"
            )


if __name__ == "__main__":
    main()
