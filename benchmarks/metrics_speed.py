"""SSIM speed against scikit-image, and the restoration metric set, on one 1920x1080 RGB pair.

Run: ``python benchmarks/metrics_speed.py [--repeats N] [--threads 1 2]``. Prints the
load average, the first-call cost in a fresh process, then for each thread count the
best and median time of each metric, the speed-up over scikit-image measured in the
same run, and the SSIM difference. ``--agreement`` prints the largest SSIM difference
from scikit-image over the photos in ``../shared/datasets``; ``--cold-compile`` times
the first call with an empty compile cache; ``--conventions`` instead prints the
convention table of ``docs/metrics.md``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from skimage.metrics import structural_similarity

from pixbench.images import decode_image
from pixbench.metrics import psnr, psnr_b, restoration_metrics, set_threads, ssim

SK = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)

# Run in a fresh interpreter: import time, whether the import loaded numba, and the
# first call of each metric (compiled code loaded from the cache, or compiled).
COLD = """
import sys, time
import numpy as np
t0 = time.perf_counter()
import pixbench.metrics as m
t1 = time.perf_counter()
loaded = "numba" in sys.modules
a = np.zeros((64, 64, 3), np.uint8)
b = a + 1
t2 = time.perf_counter(); m.ssim(a, b, data_range=255)
t3 = time.perf_counter(); m.psnr(a, b, data_range=255)
t4 = time.perf_counter(); m.psnr_b(a, b, data_range=255)
t5 = time.perf_counter(); m.ssim(a, b, data_range=255)
t6 = time.perf_counter()
print(f"import {1e3 * (t1 - t0):.0f} ms (numba loaded: {loaded}); first ssim {1e3 * (t3 - t2):.0f} ms, "
      f"psnr {1e3 * (t4 - t3):.0f} ms, psnr_b {1e3 * (t5 - t4):.0f} ms; second ssim {1e3 * (t6 - t5):.1f} ms")
"""


def cold_start(cache_dir: str | None = None) -> str:
    """First-call costs in a new process; ``cache_dir`` set to an empty folder forces compilation."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Best and median wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def cpu_best(fn, repeats: int) -> float:
    """Best CPU time of ``repeats`` calls (summed over threads): the work itself, little moved by other load."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def conventions() -> None:
    """One pair (Kodak kodim01 if ../shared/datasets is present, else skimage's astronaut) vs its JPEG q30."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.conftest import shared_datasets_dir

    shared = shared_datasets_dir()
    kodak = sorted((shared / "kodak").rglob("kodim01.png")) if shared else []
    ref = decode_image(kodak[0]) if kodak else data.astronaut()
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, format="JPEG", quality=30)
    test = decode_image(buf.getvalue())
    print(f"pair: {'kodim01.png' if kodak else 'skimage astronaut'} vs Pillow JPEG q30 ({ref.shape[1]}x{ref.shape[0]})")
    rows = [
        ("pixbench defaults (RGB)", "rgb", "rgb", 0),
        ("BasicSR / MATLAB (Y 16-235, crop 0)", "y_studio", "y_studio", 0),
        ("BasicSR SR (Y 16-235, crop 4 for x4)", "y_studio", "y_studio", 4),
        ("pyiqa defaults (PSNR RGB, SSIM Y)", "rgb", "y_studio", 0),
    ]
    print("| convention | PSNR (dB) | SSIM | PSNR-B (dB, Y) |")
    print("|---|---|---|---|")
    for name, pc, sc, crop in rows:
        print(
            f"| {name} | {psnr(ref, test, data_range=255, channel=pc, crop_border=crop):.4f} | "
            f"{ssim(ref, test, data_range=255, channel=sc, crop_border=crop):.4f} | "
            f"{psnr_b(ref, test, data_range=255, channel='y'):.4f} |"
        )


def agreement() -> None:
    """Largest |pixbench - skimage| mean SSIM over the shared photos, each against JPEG q20 and 4-bit copies."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.conftest import shared_datasets_dir

    shared = shared_datasets_dir()
    files = sorted(p for p in shared.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".bmp")) if shared else []
    if not files:
        print("no photos under ../shared/datasets; nothing to compare")
        return
    worst, where, n = 0.0, "", 0
    for path in files:
        ref = decode_image(path)
        if min(ref.shape[:2]) < 11:
            continue
        buf = io.BytesIO()
        Image.fromarray(ref).save(buf, format="JPEG", quality=20)
        for label, test in (("jpeg q20", decode_image(buf.getvalue())), ("4-bit", (ref // 16) * 16 + 8)):
            axis = -1 if ref.ndim == 3 else None
            diff = abs(
                ssim(ref, test, data_range=255)
                - structural_similarity(ref, test, data_range=255, channel_axis=axis, **SK)
            )
            n += 1
            if diff >= worst:
                worst, where = diff, f"{path.parent.name}/{path.name} vs {label}"
    print(f"SSIM vs skimage over {n} pairs ({len(files)} photos): max |difference| {worst:.1e} ({where})")


def speed(ref: np.ndarray, test: np.ndarray, threads: int, repeats: int) -> None:
    set_threads(threads)
    ssim(ref, test, data_range=255), psnr_b(ref, test, data_range=255), psnr(ref, test, data_range=255)  # warm
    sk_best, sk_med, sk_val = timed(
        lambda: structural_similarity(ref, test, data_range=255, channel_axis=-1, **SK), max(2, repeats // 3)
    )
    px_best, px_med, px_val = timed(lambda: ssim(ref, test, data_range=255), repeats)
    p_best, p_med, _ = timed(lambda: psnr(ref, test, data_range=255), repeats)
    b_best, b_med, _ = timed(lambda: psnr_b(ref, test, data_range=255), repeats)
    set_best, set_med, _ = timed(
        lambda: (psnr(ref, test, data_range=255), ssim(ref, test, data_range=255), psnr_b(ref, test, data_range=255)),
        repeats,
    )
    one_best, one_med, one = timed(lambda: restoration_metrics(ref, test, data_range=255), repeats)
    same = one == {"psnr": psnr(ref, test, data_range=255), "ssim": px_val, "psnr_b": psnr_b(ref, test, data_range=255)}
    set_cpu = cpu_best(
        lambda: (psnr(ref, test, data_range=255), ssim(ref, test, data_range=255), psnr_b(ref, test, data_range=255)),
        repeats,
    )
    one_cpu = cpu_best(lambda: restoration_metrics(ref, test, data_range=255), repeats)
    print(f"-- {threads} thread(s), best of {repeats} (skimage best of {max(2, repeats // 3)}); {load()}")
    print(f"skimage SSIM          best {sk_best * 1e3:8.1f} ms  median {sk_med * 1e3:8.1f} ms  value {sk_val:.12f}")
    print(f"pixbench SSIM         best {px_best * 1e3:8.1f} ms  median {px_med * 1e3:8.1f} ms  value {px_val:.12f}")
    print(
        f"SSIM speed-up         best/best {sk_best / px_best:5.1f}x  median/median {sk_med / px_med:5.1f}x  "
        f"|difference| {abs(sk_val - px_val):.1e}"
    )
    print(f"pixbench PSNR         best {p_best * 1e3:8.1f} ms  median {p_med * 1e3:8.1f} ms")
    print(f"pixbench PSNR-B (Y)   best {b_best * 1e3:8.1f} ms  median {b_med * 1e3:8.1f} ms")
    print(
        f"PSNR + SSIM + PSNR-B  best {set_best * 1e3:8.1f} ms  median {set_med * 1e3:8.1f} ms  "
        "(three calls; target < 50 ms)"
    )
    print(
        f"restoration_metrics   best {one_best * 1e3:8.1f} ms  median {one_med * 1e3:8.1f} ms  "
        f"(one call, two passes; values identical to the three calls: {same})"
    )
    print(
        f"CPU time, best        three calls {set_cpu * 1e3:.1f} ms, restoration_metrics {one_cpu * 1e3:.1f} ms "
        f"(summed over threads)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each (best and median are shown)")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, os.cpu_count() or 1],
        help="thread counts to time, each in turn (default: 1 and all CPUs)",
    )
    parser.add_argument("--agreement", action="store_true", help="also compare SSIM with skimage on shared photos")
    parser.add_argument(
        "--cold-compile",
        action="store_true",
        help="also time the first call with an empty compile cache (compiles every kernel)",
    )
    parser.add_argument("--conventions", action="store_true", help="print the docs/metrics.md convention table")
    args = parser.parse_args()
    if args.conventions:
        conventions()
        return
    print(load())
    print(f"fresh process, compile cache in place: {cold_start()}")
    if args.cold_compile:
        with tempfile.TemporaryDirectory() as empty:
            print(f"fresh process, empty compile cache:    {cold_start(empty)}")
    ref = np.asarray(Image.fromarray(data.astronaut()).resize((1920, 1080), Image.BICUBIC))
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, format="JPEG", quality=20)
    test = decode_image(buf.getvalue())
    print("1920x1080 RGB, JPEG q20 of the astronaut photo")
    for threads in dict.fromkeys(args.threads):
        speed(ref, test, threads, args.repeats)
    if args.agreement:
        agreement()


if __name__ == "__main__":
    main()
