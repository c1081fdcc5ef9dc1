"""The grid models (the analytic pixelation detector and the grid-aware depixelators), measured in one run.

Builds (or reuses) the ``detect``, ``detect-hard``, ``depixelate-nearest`` and
``depixelate-lanczos`` datasets, then prints:

* detector, for ``detect`` and ``detect-hard`` (negatives as web photos are) on Kodak and
  Set14 (never fitted on) and BSD68 (a fitting source, for reference): accuracy, FP rate,
  ROC-AUC and expected calibration error against the targets (accuracy >= 99%, FP rate
  <= 1%, every negative kind <= 2%), the FP rate of each negative kind, misses per
  factor, and FPS on 1920x1080 frames; a reference detector's result JSON can be given;
* depixelator: PSNR of the pixelated input, of bicubic re-interpolation from the
  recovered grid (alone and with one back-projection step onto the known block
  means), and of the grid upscaler graphs of each tier (real-time ``grid-upscaler-x*``,
  quality ``grid-upscaler-hq-x*`` where published), per factor and recipe, with the
  rate of exact grid recovery and of the right factor choice; then, per graph, FPS
  for 1080p uint8 frames through the evaluator's harness (the figure `pixbench
  evaluate` reports) against the tier targets (real-time: >= 30 FPS and >= +1.5 dB
  at x4 nearest; quality: <= 1 s per frame and >= +2.0 dB), and of each factor's *floor*: the
  same graph with its network cut to one convolution, i.e. reading the grid and writing the
  frame, the ceiling of any graph of this design on the host; reference depixelators'
  result JSONs can be given.

Usage:
    python benchmarks/grid_models.py [--work /tmp/pixbench-grid-models] [--reference-result R.json ...]
                                     [--depixelators DIR] [--skip-detector | --skip-depixelate]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pixbench.datasets import open_dataset
from pixbench.degradations import upscale
from pixbench.evaluate.speed import measure_speed
from pixbench.forensics import grid as G
from pixbench.forensics.depixelate import MODEL_DIR, choose_scale, depixelate, load_depixelators
from pixbench.forensics.upscaler_config import TIERS, UpscalerConfig
from pixbench.metrics import calibration, classification_metrics, psnr
from pixbench.runtime import Runner, load_model, resolve_spec

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
SOURCES = {"kodak": f"kodak:{SHARED / 'kodak'}", "set14": f"folder:{SHARED / 'set14'}"}
#: The detector is also shown on BSD68, one of the sources it was fitted on (tools/fit_grid_detector.py).
DETECT_SOURCES = {"bsd68": f"folder:{SHARED / 'bsd68'}", **SOURCES}


def build(recipe: str, source: str, work: Path, sources: dict[str, str] = SOURCES) -> Path:
    out = work / f"{recipe}-{source}"
    if not (out / "dataset.json").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pixbench",
                "build-dataset",
                recipe,
                "-o",
                str(out),
                "--source",
                sources[source],
                "--workers",
                "2",
            ],
            check=True,
            capture_output=True,
        )
    return out


def resize(image: np.ndarray, size: tuple[int, int], kernel: str) -> np.ndarray:
    """Pillow resize of an ``HxWx3`` uint8 image to ``size = (width, height)`` (``upscale`` shrinks too)."""
    return upscale(image, size=(size[1], size[0]), kernel=kernel)


def samples(path: Path):
    ds = open_dataset(path)
    for split in ds.splits:
        yield from ds.split(split)


def fps(session: ort.InferenceSession, name: str, x: np.ndarray, *, runs: int = 20, rounds: int = 3) -> list[float]:
    for _ in range(3):
        session.run(None, {name: x})
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(runs):
            session.run(None, {name: x})
        out.append(runs / (time.perf_counter() - t))
    return out


#: Detector targets on photo sources it was not fitted on: accuracy, FP rate, FP rate of each negative kind.
TARGET_ACCURACY, TARGET_FPR, TARGET_KIND_FPR = 0.99, 0.01, 0.02
#: Recipes the detector is checked with: the published one and the web-photo negatives of detect-hard.
DETECT_RECIPES = ("detect", "detect-hard")


def _results_of(references: list[Path], task: str) -> list[tuple[Path, dict]]:
    """The reference result files (``pixbench evaluate`` JSON) of ``task``, read."""
    docs = [(ref, json.loads(ref.read_text())) for ref in references]
    return [(ref, doc) for ref, doc in docs if doc.get("task") == task]


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def detector_report(work: Path, references: list[Path], sources: dict[str, str], model: Path) -> None:
    """Accuracy, FP rate, FP rate per negative kind, misses per factor and ECE, per recipe and source."""
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    print(f"\n== detector {model.name} ({model.stat().st_size / 1e6:.3f} MB) ==")
    print(
        f"targets on sources it was not fitted on: accuracy >= {TARGET_ACCURACY:.0%}, FP rate <= {TARGET_FPR:.0%}, "
        f"each negative kind FP <= {TARGET_KIND_FPR:.0%}; bsd68 is a fitting source (shown for reference)"
    )
    for recipe in DETECT_RECIPES:
        for source in sources:
            y, p, kinds, factors = [], [], defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
            for s in samples(build(recipe, source, work, sources)):
                prob = float(sess.run(None, {"image": s.input.transpose(2, 0, 1)[None].astype(np.float32)})[0][0, 0])
                y.append(s.label)
                p.append(prob)
                group = factors[int(float(s.meta["factor"]))] if s.label else kinds[s.meta["negative_kind"]]
                group[0] += int((prob >= 0.5) != bool(s.label))
                group[1] += 1
            cm = classification_metrics(np.array(y), np.array(p), threshold=0.5)
            ece = calibration(np.array(y), np.array(p))["ece"]
            kind_ok = all(a / b <= TARGET_KIND_FPR for a, b in kinds.values())
            fitted = " (fitted on)" if source == "bsd68" else ""
            print(
                f"{recipe:11s} {source:6s}{fitted} n={len(y):5d}  accuracy {cm['accuracy']:.4f} "
                f"[{_mark(cm['accuracy'] >= TARGET_ACCURACY)}]  FP rate {cm['fpr']:.4f} [{_mark(cm['fpr'] <= TARGET_FPR)}]"
                f"  kinds [{_mark(kind_ok)}]  ROC-AUC {cm['roc_auc']:.4f}  ECE {ece:.4f}"
            )
            print(
                "    FP per negative kind: "
                + ", ".join(f"{k} {a}/{b} ({a / b:.1%})" for k, (a, b) in sorted(kinds.items()))
            )
            print("    misses per factor:    " + ", ".join(f"x{f} {a}/{b}" for f, (a, b) in sorted(factors.items())))
    rates = fps(sess, "image", np.random.default_rng(0).random((1, 3, 1080, 1920), dtype=np.float32) * 255)
    print(
        f"FPS 1920x1080 (bare onnxruntime session, default threads): best {max(rates):.1f}, "
        f"spread {min(rates):.1f}-{max(rates):.1f}"
    )
    for ref, doc in _results_of(references, "detect"):
        mm = doc["metrics"]["model"]
        print(
            f"reference {doc['model']['name']}: accuracy {mm.get('accuracy')}, FP rate {mm.get('fpr')}, "
            f"FPS {doc.get('speed', {}).get('fps_1080p')} (from {ref.name})"
        )


def _box_mean_projection(image: np.ndarray, low: np.ndarray, s: int) -> np.ndarray:
    """One back-projection step: give every ``s x s`` block of ``image`` the mean ``low`` says it has."""
    h, w = low.shape[0] * s, low.shape[1] * s
    x = image[:h, :w].astype(np.float64)
    means = x.reshape(low.shape[0], s, low.shape[1], s, 3).mean(axis=(1, 3))
    x += np.repeat(np.repeat(low - means, s, axis=0), s, axis=1)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


#: Depixelator targets at x4 on Kodak (nearest): gain over the input per tier, and frames per second
#: through `pixbench evaluate` (real-time) or seconds per frame (quality), at 1080p output.
TARGET_GAIN = {"realtime": 1.5, "quality": 2.0}
TARGET_FPS = {"realtime": 30.0, "quality": 1.0}


def evaluate_fps(path: Path) -> dict:
    """FPS of ``path`` on a 1920x1080 uint8 frame through the evaluator's harness (what `pixbench evaluate` reports)."""
    model = load_model(path)
    runner = Runner(model, resolve_spec(model, "depixelate"))
    return measure_speed(runner, None, warmup=2, runs=10)


def frame_speeds(session: ort.InferenceSession, path: Path, frame: np.ndarray) -> tuple[float, dict]:
    """FPS of the graph on ``frame``: bare session (best of 5 rounds of 5), and through the evaluator's harness."""
    return max(fps(session, "image", frame, runs=5, rounds=5)), evaluate_fps(path)


def floor_graph(scale: int, folder: Path) -> Path | None:
    """The grid graph of ``scale`` with its network cut to one 3x3 convolution of one feature
    (untrained): what reading the grid and writing the frame cost, which no network of this design
    runs under. ``None`` without torch (the ``train`` extra)."""
    if importlib.util.find_spec("torch") is None:
        return None
    from pixbench.forensics.upscaler_onnx import save_depixelator_onnx
    from pixbench.models import MODELS

    return save_depixelator_onnx(
        MODELS.get("grid-upscaler").build({"scale": scale, "channels": 1, "layers": 0}),
        folder / f"floor-x{scale}.onnx",
        name=f"floor-x{scale}",
    )


def tier_models(folder: Path) -> dict[str, dict]:
    """The graphs of each tier found in ``folder``, keyed by factor (a tier with none is left out)."""
    out = {}
    for tier, (stem, published) in TIERS.items():
        found = tuple(f for f in sorted(published) if (folder / f"{stem}-x{f}.onnx").is_file())
        if found:
            out[tier] = load_depixelators(folder, found, stem=stem)
    return out


def depixelate_report(work: Path, references: list[Path], folder: Path = MODEL_DIR) -> None:
    tiers = tier_models(folder)
    if "realtime" not in tiers:
        sys.exit(f"{folder} holds no grid-upscaler-x*.onnx graphs")
    models = tiers["realtime"]
    gains = {}
    for recipe in ("depixelate-nearest", "depixelate-lanczos"):
        nearest = recipe.endswith("nearest")
        print(f"\n== {recipe} (Kodak, all splits) ==")
        print(
            "factor   n  exact-grid  factor-ok  input  bicubic(grid)  bicubic+bp  "
            + "  ".join(f"{t:>8s} {'gain':>10s}" for t in tiers)
        )
        rows = defaultdict(list)
        for s in samples(build(recipe, "kodak", work)):
            f = int(s.meta["factor"])
            # nearest: the estimator picks the graph; lanczos: its spectral factor is unreliable, the true one is used
            out, est, used = depixelate(s.input, models, scale=None if nearest else f)
            low = (
                G.recover_lowres(s.input, est)
                if nearest
                else resize(s.input, (s.input.shape[1] // f, s.input.shape[0] // f), "box")
            )
            h, w = s.target.shape[:2]
            bicubic = resize(low, (w, h), "bicubic")
            exact = low.shape == s.lowres.shape and bool(np.array_equal(low, s.lowres))
            bp = _box_mean_projection(bicubic, low.astype(np.float64), f) if low.shape[0] * f == h else bicubic
            tier_psnr = []
            for tier, graphs in tiers.items():
                if f not in graphs:  # this tier publishes no graph of this factor
                    tier_psnr.append(np.nan)
                    continue
                o = out if tier == "realtime" else depixelate(s.input, graphs, grid=est, scale=f)[0]
                tier_psnr.append(psnr(s.target, o, data_range=255))
            rows[f].append(
                (
                    exact,
                    choose_scale(est.factor, models) == f,
                    psnr(s.target, s.input, data_range=255),
                    psnr(s.target, bicubic, data_range=255),
                    psnr(s.target, bp, data_range=255),
                    *tier_psnr,
                )
            )
        for f, r in sorted(rows.items()):
            a = np.array(r, dtype=np.float64).mean(axis=0)
            cells = []
            for i, tier in enumerate(tiers):
                v = a[5 + i]
                cells.append(f"{v:8.2f} {v - a[2]:+10.2f}" if np.isfinite(v) else f"{'-':>8s} {'-':>10s}")
                gains[recipe, f, tier] = v - a[2]
            print(
                f"x{f:<5d} {len(r):3d}  {a[0]:9.3f}  {a[1]:9.3f}  {a[2]:5.2f}  {a[3]:13.2f}  {a[4]:10.2f}  "
                + "  ".join(cells)
            )
    print(
        "\n== depixelator tiers (uint8 1920x1080 in and out; FPS of a bare session on ready planes, best of 5 "
        "rounds of 5, and through the evaluate harness, 10 frames after 2) =="
    )
    frame = np.random.default_rng(0).integers(0, 256, (1, 3, 1080, 1920), dtype=np.uint8)
    for tier, graphs in tiers.items():
        stem = TIERS[tier][0]
        for f in sorted(graphs):
            path = folder / f"{stem}-x{f}.onnx"
            props = graphs[f].session.get_modelmeta().custom_metadata_map
            macs = UpscalerConfig(**json.loads(props["pixbench.model_args"])).macs(1080, 1920)
            bare, speed = frame_speeds(graphs[f].session, path, frame)
            line = (
                f"{path.name:24s} {macs / 1e9:6.2f} GMAC  {path.stat().st_size / 1e3:5.0f} kB  bare FPS {bare:6.2f}  "
                f"evaluate FPS {speed['fps_1080p']:6.2f} ({speed['latency_ms_median_1080p']:.0f} ms median)"
            )
            if f == 4:
                gain = gains["depixelate-nearest", 4, tier]
                fps_ok = (
                    speed["fps_1080p"] >= TARGET_FPS[tier]
                    if tier == "realtime"
                    else speed["latency_ms_median_1080p"] <= 1000 / TARGET_FPS[tier]
                )
                line += (
                    f"  x4 nearest gain {gain:+.2f} dB [{_mark(gain >= TARGET_GAIN[tier])} >= "
                    f"+{TARGET_GAIN[tier]}]  speed [{_mark(fps_ok)} "
                    f"{f'>= {TARGET_FPS[tier]:g} FPS' if tier == 'realtime' else f'<= {1 / TARGET_FPS[tier]:g} s per frame'}]"
                )
            print(line)
    floors = [(f, floor_graph(f, work)) for f in sorted(tiers["realtime"])]
    for f, path in floors:
        if path is None:
            print(f"floor-x{f}: needs torch (pip install -e '.[train]') to build")
            continue
        bare, speed = frame_speeds(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), path, frame)
        print(
            f"{path.name:24s} {'':6s} no network: bare FPS {bare:6.2f}  evaluate FPS {speed['fps_1080p']:6.2f} "
            f"({speed['latency_ms_median_1080p']:.0f} ms median), the ceiling of any x{f} graph of this design here"
        )
    for ref, doc in _results_of(references, "depixelate"):
        mm = doc["metrics"]
        recipe = doc.get("dataset", {}).get("recipe", {})
        print(
            f"reference {doc['model']['name']} on {recipe.get('name')} (factor {doc.get('settings', {}).get('factor')}): "
            f"PSNR {mm['model'].get('psnr')} (input {mm['degraded'].get('psnr')}), "
            f"FPS {doc.get('speed', {}).get('fps_1080p')} (from {ref.name}; its own split and samples)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/pixbench-grid-models"), help="where datasets are built")
    parser.add_argument(
        "--reference-result",
        type=Path,
        action="append",
        default=[],
        help="result JSON of a reference model (detector or depixelator) from `pixbench evaluate`, printed alongside",
    )
    parser.add_argument(
        "--depixelators",
        type=Path,
        default=MODEL_DIR,
        help="folder holding grid-upscaler-x{2,4,8}.onnx and, where published, the quality "
        "tier's grid-upscaler-hq-x{2,4}.onnx (default: the published ones)",
    )
    parser.add_argument(
        "--detector",
        type=Path,
        default=MODEL_DIR / "grid-detector.onnx",
        help="the detector graph to check (default: the published grid-detector.onnx)",
    )
    parser.add_argument("--skip-depixelate", action="store_true", help="only the detector part")
    parser.add_argument("--skip-detector", action="store_true", help="only the depixelator part")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is missing: this benchmark needs the Kodak and Set14 images there")
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.skip_detector:
        detector_report(args.work, args.reference_result, DETECT_SOURCES, args.detector)
    if not args.skip_depixelate:
        depixelate_report(args.work, args.reference_result, args.depixelators)


if __name__ == "__main__":
    main()
