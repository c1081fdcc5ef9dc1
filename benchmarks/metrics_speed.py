"""SSIM speed against scikit-image, and the restoration metric set, on one 1920x1080 RGB pair.

Run: ``python benchmarks/metrics_speed.py [--repeats N]``. Prints the best and median
time of each, the speed-up measured in the same run, and the SSIM difference.
``--conventions`` instead prints the convention table of ``docs/metrics.md``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
from PIL import Image
from skimage import data
from skimage.metrics import structural_similarity

from pixbench.images import decode_image
from pixbench.metrics import psnr, psnr_b, ssim


def timed(fn, repeats: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def conventions() -> None:
    """One pair (Kodak kodim01 if ../shared/datasets is present, else skimage's astronaut) vs its JPEG q30."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.conftest import shared_datasets_dir

    shared = shared_datasets_dir()
    kodak = sorted((shared / "kodak").rglob("kodim01.png")) if shared else []
    ref = decode_image(kodak[0]) if kodak else data.astronaut()
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, format="JPEG", quality=30)
    test = decode_image(buf.getvalue())
    print(f"pair: {'kodim01.png' if kodak else 'skimage astronaut'} vs Pillow JPEG q30 ({ref.shape[1]}x{ref.shape[0]})")
    rows = [("pixbench defaults (RGB)", "rgb", "rgb", 0),
            ("BasicSR / MATLAB (Y 16-235, crop 0)", "y_studio", "y_studio", 0),
            ("BasicSR SR (Y 16-235, crop 4 for x4)", "y_studio", "y_studio", 4),
            ("pyiqa defaults (PSNR RGB, SSIM Y)", "rgb", "y_studio", 0)]
    print("| convention | PSNR (dB) | SSIM | PSNR-B (dB, Y) |")
    print("|---|---|---|---|")
    for name, pc, sc, crop in rows:
        print(f"| {name} | {psnr(ref, test, data_range=255, channel=pc, crop_border=crop):.4f} | "
              f"{ssim(ref, test, data_range=255, channel=sc, crop_border=crop):.4f} | "
              f"{psnr_b(ref, test, data_range=255, channel='y'):.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (best and median are shown)")
    parser.add_argument("--conventions", action="store_true", help="print the docs/metrics.md convention table")
    args = parser.parse_args()
    if args.conventions:
        conventions()
        return
    ref = np.asarray(Image.fromarray(data.astronaut()).resize((1920, 1080), Image.BICUBIC))
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, format="JPEG", quality=20)
    test = decode_image(buf.getvalue())
    ssim(ref, test, data_range=255), psnr_b(ref, test, data_range=255), psnr(ref, test, data_range=255)  # compile

    sk_best, sk_med, sk_val = timed(lambda: structural_similarity(
        ref, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
        channel_axis=-1), max(2, args.repeats // 2))
    px_best, px_med, px_val = timed(lambda: ssim(ref, test, data_range=255), args.repeats)
    set_best, set_med, _ = timed(lambda: (psnr(ref, test, data_range=255), ssim(ref, test, data_range=255),
                                          psnr_b(ref, test, data_range=255)), args.repeats)
    print("1920x1080 RGB, JPEG q20 of the astronaut photo")
    print(f"skimage SSIM          best {sk_best * 1e3:8.1f} ms  median {sk_med * 1e3:8.1f} ms  value {sk_val:.10f}")
    print(f"pixbench SSIM         best {px_best * 1e3:8.1f} ms  median {px_med * 1e3:8.1f} ms  value {px_val:.10f}")
    print(f"SSIM speed-up         best/best {sk_best / px_best:5.1f}x  median/median {sk_med / px_med:5.1f}x  "
          f"|difference| {abs(sk_val - px_val):.1e}")
    print(f"PSNR + SSIM + PSNR-B  best {set_best * 1e3:8.1f} ms  median {set_med * 1e3:8.1f} ms  (target < 50 ms)")


if __name__ == "__main__":
    main()
