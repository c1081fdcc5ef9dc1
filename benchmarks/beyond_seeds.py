"""Issue 7 evidence in one run: the analytic grid detector and the grid-aware depixelator.

Builds (or reuses) the ``detect``, ``depixelate-nearest`` and ``depixelate-lanczos``
datasets from test-only sources (Kodak, Set14; the detector was fitted on BSD68
and scikit-image photos), then prints side by side:

* detector: accuracy, FP rate, ROC-AUC on every split of each source (all of it is
  unseen), misses per factor and per up kernel, and FPS on 1920x1080 frames;
  a reference detector's result JSON can be given for comparison;
* depixelator: PSNR of the pixelated input, of bicubic re-interpolation from the
  recovered grid, and of the learned upscaler, per factor, with the rate of exact
  grid recovery, and FPS for 1080p output.

Usage:
    python benchmarks/beyond_seeds.py [--work /tmp/pixbench-beyond] [--reference-result R.json ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pixbench.datasets import open_dataset
from pixbench.forensics import grid as G
from pixbench.forensics.depixelate import MODEL_DIR, depixelate
from pixbench.forensics.synthetic import resize
from pixbench.metrics import classification_metrics, psnr

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
SOURCES = {"kodak": f"kodak:{SHARED / 'kodak'}", "set14": f"folder:{SHARED / 'set14'}"}


def build(recipe: str, source: str, work: Path) -> Path:
    out = work / f"{recipe}-{source}"
    if not (out / "dataset.json").is_file():
        subprocess.run([sys.executable, "-m", "pixbench", "build-dataset", recipe, "-o", str(out),
                        "--source", SOURCES[source], "--workers", "2"], check=True, capture_output=True)
    return out


def samples(path: Path):
    ds = open_dataset(path)
    for split in ds.splits:
        yield from ds.split(split)


def fps(session: ort.InferenceSession, name: str, shape: tuple[int, ...], *, runs: int = 20, rounds: int = 3) -> list[float]:
    x = np.random.default_rng(0).random(shape, dtype=np.float32) * (255 if name == "image" else 1)
    for _ in range(3):
        session.run(None, {name: x})
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(runs):
            session.run(None, {name: x})
        out.append(runs / (time.perf_counter() - t))
    return out


def detector_report(work: Path, references: list[Path]) -> None:
    model = MODEL_DIR / "grid-detector.onnx"
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    print(f"\n== detector {model.name} ({model.stat().st_size / 1e6:.3f} MB) ==")
    for source in SOURCES:
        y, p, miss = [], [], defaultdict(lambda: [0, 0])
        for s in samples(build("detect", source, work)):
            prob = float(sess.run(None, {"image": s.input.transpose(2, 0, 1)[None].astype(np.float32)})[0][0, 0])
            y.append(s.label)
            p.append(prob)
            m = s.meta
            keys = [f"factor={m['factor']}", f"up={m['up_kernel']}", f"down={m['down_kernel']}"] if s.label else [f"neg={m['negative_kind']}"]
            for k in keys:
                miss[k][0] += int((prob >= 0.5) != bool(s.label))
                miss[k][1] += 1
        cm = classification_metrics(np.array(y), np.array(p), threshold=0.5)
        print(f"{source:6s} n={len(y):4d}  accuracy {cm['accuracy']:.4f}  FP rate {cm['fpr']:.4f}  "
              f"ROC-AUC {cm['roc_auc']:.4f}")
        wrong = {k: v for k, v in sorted(miss.items()) if v[0]}
        print("        errors by group: " + (", ".join(f"{k}: {a}/{b}" for k, (a, b) in wrong.items()) or "none"))
    rates = fps(sess, "image", (1, 3, 1080, 1920))
    print(f"FPS 1920x1080 (onnxruntime, default threads): best {max(rates):.1f}, spread {min(rates):.1f}-{max(rates):.1f}")
    for ref in references:
        doc = json.loads(ref.read_text())
        mm = doc["metrics"]["model"]
        print(f"reference {doc['model']['name']}: accuracy {mm.get('accuracy')}, FP rate {mm.get('fpr')}, "
              f"FPS {doc.get('speed', {}).get('fps_1080p')} (from {ref.name})")


def depixelate_report(work: Path) -> None:
    for recipe in ("depixelate-nearest", "depixelate-lanczos"):
        print(f"\n== {recipe} (Kodak, all splits) ==")
        print("factor   n  exact-grid  PSNR input  bicubic(grid)  ours   ours-input  ours-bicubic")
        rows = defaultdict(list)
        sessions = {}
        for s in samples(build(recipe, "kodak", work)):
            f = int(s.meta["factor"])
            path = MODEL_DIR / f"grid-upscaler-x{f}.onnx"
            if not path.is_file():
                continue
            sess = sessions.setdefault(f, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
            out, est = depixelate(s.input, sess, scale=f)
            low = G.recover_lowres(s.input, est)
            h, w = s.target.shape[:2]
            bicubic = resize(low, (w, h), "bicubic")
            rows[f].append((
                low.shape == s.lowres.shape and bool(np.array_equal(low, s.lowres)),
                psnr(s.target, s.input, data_range=255), psnr(s.target, bicubic, data_range=255),
                psnr(s.target, out, data_range=255),
            ))
        for f, r in sorted(rows.items()):
            a = np.array(r, dtype=np.float64)
            print(f"x{f:<5d} {len(r):3d}  {a[:, 0].mean():9.3f}  {a[:, 1].mean():10.2f}  {a[:, 2].mean():13.2f}  "
                  f"{a[:, 3].mean():5.2f}  {a[:, 3].mean() - a[:, 1].mean():+10.2f}  {a[:, 3].mean() - a[:, 2].mean():+12.2f}")
    for f in (2, 4, 8):
        path = MODEL_DIR / f"grid-upscaler-x{f}.onnx"
        if path.is_file():
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            rates = fps(sess, "lowres", (1, 3, 1080 // f, 1920 // f), runs=5)
            print(f"upscaler x{f}: FPS for 1080p output best {max(rates):.1f}, spread {min(rates):.1f}-{max(rates):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/pixbench-beyond"), help="where datasets are built")
    parser.add_argument("--reference-result", type=Path, action="append", default=[],
                        help="result JSON of a reference detector from `pixbench evaluate`, printed alongside")
    parser.add_argument("--skip-depixelate", action="store_true", help="only the detector part")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is missing: this benchmark needs the Kodak and Set14 images there")
    args.work.mkdir(parents=True, exist_ok=True)
    detector_report(args.work, args.reference_result)
    if not args.skip_depixelate:
        depixelate_report(args.work)


if __name__ == "__main__":
    main()
