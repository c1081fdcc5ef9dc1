"""The localize models against the whole-image grid detector, per 1920x1080 frame, in one run.

The issue's speed target for the mosaic segmenter is at most 3x the whole-image grid
detector's time per 1080p frame. This script times, in one process and on the same
frame, with interleaved rounds so that a load change hits every model alike:

* ``grid-detector``: the published whole-image detector graph (``leaderboards/models/grid-detector.onnx``);
* ``sepunet-segmenter``: a trained export given with ``--segmenter``, else the default
  architecture with fresh weights (the weights do not change the time);
* ``grid-localizer`` and ``flatness``: the two localize baselines (``pixbench baseline``).

Each time is one frame as `pixbench evaluate` feeds it: the uint8 HxWx3 frame converted to
the model's float32 NCHW range, then the session run. It prints the median time per frame
of each model, its FPS and its ratio to the grid detector.

Usage:
    python benchmarks/localize_speed.py [--segmenter model.onnx] [--threads 1] [--rounds 7] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pixbench.baselines import write_baseline

ROOT = Path(__file__).resolve().parent.parent
DETECTOR = ROOT / "leaderboards" / "models" / "grid-detector.onnx"
TARGET_RATIO = 3.0


def export_untrained(path: Path) -> Path:
    """The default ``sepunet-segmenter`` with fresh weights, exported as `pixbench export` does."""
    from pixbench.export import export_model
    from pixbench.models import MODELS

    spec = MODELS.get("sepunet-segmenter")
    export_model(spec.build(), spec, path, model_args=spec.full_args(), task="localize")
    return path


def session(path: Path, threads: int) -> tuple[ort.InferenceSession, float]:
    """An onnxruntime session of ``path`` and the scale its input range needs (255 or 1/1)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    props = sess.get_modelmeta().custom_metadata_map
    return sess, 1.0 if props.get("pixbench.range") == "255" else 1.0 / 255.0


def frame_time(sess: ort.InferenceSession, scale: float, frame: np.ndarray, runs: int) -> float:
    """Median seconds of ``runs`` calls: the uint8 frame to float32 NCHW, then the session."""
    name = sess.get_inputs()[0].name
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        x = np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32)
        x *= scale
        sess.run(None, {name: x})
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segmenter", type=Path, help="a sepunet-segmenter export (default: fresh weights)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of every session")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = {
            "grid-detector": DETECTOR,
            "sepunet-segmenter": args.segmenter or export_untrained(work / "segmenter.onnx"),
            "grid-localizer": write_baseline("grid-localizer", work / "grid-localizer.onnx"),
            "flatness": write_baseline("flatness", work / "flatness.onnx"),
        }
        sessions = {name: session(path, args.threads) for name, path in paths.items()}
        frame = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
        times: dict[str, list[float]] = {name: [] for name in sessions}
        for sess, scale in sessions.values():  # warm-up
            frame_time(sess, scale, frame, 2)
        for _ in range(args.rounds):
            for name, (sess, scale) in sessions.items():
                times[name].append(frame_time(sess, scale, frame, args.runs))
    base = float(np.median(times["grid-detector"]))
    print(f"1920x1080 frame, {args.threads} thread(s), median of {args.rounds} rounds x {args.runs} runs")
    print(f"{'model':20s} {'ms/frame':>9s} {'FPS':>7s} {'x detector':>10s}")
    for name, values in times.items():
        t = float(np.median(values))
        print(f"{name:20s} {t * 1e3:9.1f} {1 / t:7.1f} {t / base:10.2f}")
    ratio = float(np.median(times["sepunet-segmenter"])) / base
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"sepunet-segmenter / grid-detector = {ratio:.2f} ({verdict} the <= {TARGET_RATIO:g}x target)")


if __name__ == "__main__":
    main()
