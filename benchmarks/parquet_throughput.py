"""`build-dataset --format parquet` against the imagefolder layout: throughput and the driver's memory.

Both layouts build the same recipe from the same folder of generated photos with the same
workers, each build in a fresh process, side by side in one run (the order alternates between
rounds, and the best round of each is kept); the fingerprints must agree. The driver's peak
resident memory (``getrusage`` maxrss of the process that calls ``build_dataset``; the worker
processes are others) is taken at two source sizes: it should stay flat, because the driver
holds one row group per split, never a shard or the dataset.

    python benchmarks/parquet_throughput.py [--images 32 128] [--workers 2] [--recipe jpeg] [--repeat 2]

Target: Parquet at least as fast as imagefolder (time ratio <= 1.0). The machine's load
average is printed, because other work on a shared machine moves these numbers.
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

from build_engines import photos  # the same generated photos as the engine benchmark

LAYOUTS = ("imagefolder", "parquet")


def child(layout: str, recipe: str, src: str, out: str, workers: int) -> None:
    """One build in this process; prints seconds, fingerprint, files written and peak memory as JSON."""
    from pixbench.builder import build_dataset
    from pixbench.recipes import resolve_recipe

    parsed, _ = resolve_recipe(recipe)
    started = time.perf_counter()
    result = build_dataset(parsed, out, source=f"folder:{src}", workers=workers, layout=layout)
    seconds = time.perf_counter() - started
    files = [p for p in Path(out).rglob("*") if p.is_file()]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "fingerprint": result.info["fingerprint"],
                "files": len(files),
                "mib": sum(p.stat().st_size for p in files) / 2**20,
                "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run(layout: str, args: argparse.Namespace, src: Path, out: Path) -> dict:
    command = [sys.executable, __file__, "--child", layout, str(src), str(out)]
    command += ["--recipe", args.recipe, "--workers", str(args.workers)]
    proc = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--side", type=int, default=384)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recipe", default="jpeg")
    parser.add_argument("--repeat", type=int, default=2, help="rounds per size; the best of each layout is kept")
    parser.add_argument("--child", nargs=3, metavar=("LAYOUT", "SRC", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.recipe, args.child[1], args.child[2], args.workers)
        return
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; recipe {args.recipe}, "
        f"{args.side}x{args.side} photos, {args.workers} workers, {args.repeat} rounds, order alternating"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in args.images:
            src = photos(root / f"src{n}", n, args.side)
            best: dict[str, dict] = {}
            for round_ in range(args.repeat):
                for layout in LAYOUTS if round_ % 2 == 0 else LAYOUTS[::-1]:
                    out = root / f"{layout}{n}-{round_}"
                    got = run(layout, args, src, out)
                    shutil.rmtree(out)
                    print(f"  {n:4d} images, round {round_ + 1}, {layout:11s}: {got['seconds']:7.2f} s")
                    if layout not in best or got["seconds"] < best[layout]["seconds"]:
                        best[layout] = got
            a, b = best["imagefolder"], best["parquet"]
            same = a["fingerprint"] == b["fingerprint"]
            print(
                f"{n:4d} images: imagefolder {n / a['seconds']:6.2f} img/s, {a['files']} files | "
                f"parquet {n / b['seconds']:6.2f} img/s, {b['files']} files | parquet/imagefolder time "
                f"x{b['seconds'] / a['seconds']:.2f} | {a['mib']:.0f} / {b['mib']:.0f} MiB on disk | "
                f"driver peak RSS {a['maxrss_mib']:.0f} / {b['maxrss_mib']:.0f} MiB | "
                f"fingerprints {'equal' if same else 'DIFFER'}"
            )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
