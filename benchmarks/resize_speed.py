"""Speed of ``pixbench.degradations.imresize`` against Pillow's BICUBIC resize at 1080p.

Run: ``python benchmarks/resize_speed.py [--repeats N] [--threads 1 2]``. The image is a
1920x1080 RGB photo (scikit-image's astronaut, stretched to that size: the content does not
change the work). Each case shrinks it by 2, 3 and 4, or enlarges the matching small image
(made by ``imresize``) back to 1920x1080. Pillow and ``imresize`` are called alternately in
the same loop, so both see the same load; the best of ``--repeats`` runs of each is kept, as
wall time and as CPU time. The ratio is Pillow's time over ``imresize``'s (1.0 = as fast as
Pillow); the target is at least 0.5. Pillow's time covers ``Image.resize`` alone (the
``Image`` is made beforehand); ``imresize`` takes and returns numpy arrays. Pillow resizes on
one thread; ``--threads`` sets the thread count of ``imresize`` (default: 1 and all CPUs).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from PIL import Image
from skimage import data

from pixbench.degradations import imresize
from pixbench.threads import set_threads

TARGET = 0.5


def photo_1080p() -> np.ndarray:
    img = Image.fromarray(data.astronaut()).resize((1920, 1080), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(img))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def side_by_side(image: np.ndarray, scale: float, repeats: int) -> dict[str, float]:
    """Best wall and CPU times of Pillow and imresize on the same case, called alternately."""
    pil = Image.fromarray(image)
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    ours = imresize(image, scale=scale)  # warm: compiled code loaded
    if ours.shape[:2] != size[::-1]:
        raise SystemExit(f"sizes differ: imresize {ours.shape[:2]}, Pillow {size[::-1]}")
    best = {"pil_wall": np.inf, "pil_cpu": np.inf, "ours_wall": np.inf, "ours_cpu": np.inf}
    for _ in range(repeats):
        for key, fn in (
            ("pil", lambda: pil.resize(size, Image.Resampling.BICUBIC)),
            ("ours", lambda: imresize(image, scale=scale)),
        ):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            best[f"{key}_cpu"] = min(best[f"{key}_cpu"], time.process_time() - cpu)
            best[f"{key}_wall"] = min(best[f"{key}_wall"], time.perf_counter() - wall)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each (the best is kept)")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1], help="imresize thread counts to time"
    )
    args = parser.parse_args()
    big = photo_1080p()
    cases = []
    for s in (2, 3, 4):
        cases.append((f"1920x1080 -> 1/{s}", big, 1 / s))
        small = imresize(big, scale=1 / s)
        cases.append((f"{small.shape[1]}x{small.shape[0]} -> x{s}", small, s))
    one, five, _ = os.getloadavg()
    print(f"{cpu_name()}, {os.cpu_count()} CPUs; load average {one:.2f} (1 min), {five:.2f} (5 min)")
    for threads in args.threads:
        set_threads(threads)
        print(f"-- imresize on {threads} thread(s); Pillow on 1; best of {args.repeats}")
        print("| case | Pillow wall | imresize wall | ratio | Pillow CPU | imresize CPU | ratio | target >= 0.5 |")
        print("|---|---|---|---|---|---|---|---|")
        for name, image, scale in cases:
            t = side_by_side(image, scale, args.repeats)
            wall, cpu = t["pil_wall"] / t["ours_wall"], t["pil_cpu"] / t["ours_cpu"]
            print(
                f"| {name} | {t['pil_wall'] * 1e3:.1f} ms | {t['ours_wall'] * 1e3:.1f} ms | {wall:.2f} | "
                f"{t['pil_cpu'] * 1e3:.1f} ms | {t['ours_cpu'] * 1e3:.1f} ms | {cpu:.2f} | "
                f"{'holds' if wall >= TARGET else 'MISSED'} |"
            )


if __name__ == "__main__":
    main()
