#!/usr/bin/env python3
"""Harness overhead of ``pixbench evaluate``'s inference path against a bare onnxruntime loop.

Both sides run the same model file on the same images, with the same thread count:

* **bare**: a session with onnxruntime's default options; the tensors are prepared
  before timing, and the loop is only ``session.run``;
* **pixbench**: the session ``pixbench evaluate`` opens (``load_model``) and
  ``Runner.restore`` on the ``uint8`` images, i.e. everything evaluate does per sample
  except the metrics: range and layout conversion, tiling and blending (fixed-size
  case), NaN/shape checks, conversion back, rounding.

Two models: a dynamic-size 3-layer CNN (whole images) and the same CNN with a fixed
128x128 input (overlapping tiles; the bare loop runs the very tile batches pixbench sends).
Each side is timed ``--repeats`` times, alternating, and the best time of each is
compared; the spread of the ratio over the repeats is printed too. The target is a
ratio of at most 1.10.

    python benchmarks/evaluate_overhead.py [--images 4] [--size 384x512] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from pixbench.runtime import Runner, load_model, resolve_spec
from pixbench.runtime.tiling import crops, pad_to

#: Pause before each timed loop, in seconds (longer than onnxruntime's default spinning).
QUIET_S = 0.1


def cnn(path: Path, size: tuple[int, int] | None, width: int = 16, seed: int = 0) -> Path:
    """3x3 conv (3->w) ReLU, conv (w->w) ReLU, conv (w->3), plus the input: a small residual restorer."""
    rng = np.random.default_rng(seed)
    h, w = size if size else ("H", "W")
    chans = [3, width, width, 3]
    nodes, inits, src = [], [], "x"
    for i in range(3):
        wt = rng.normal(0, 0.05, (chans[i + 1], chans[i], 3, 3)).astype(np.float32)
        inits += [
            numpy_helper.from_array(wt, f"w{i}"),
            numpy_helper.from_array(np.zeros(chans[i + 1], np.float32), f"b{i}"),
        ]
        nodes.append(helper.make_node("Conv", [src, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        src = f"c{i}"
        if i < 2:
            nodes.append(helper.make_node("Relu", [src], [f"r{i}"]))
            src = f"r{i}"
    nodes.append(helper.make_node("Add", [src, "x"], ["y"]))
    shape = ["N", 3, h, w]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def bare_inputs(runner: Runner, images: list[np.ndarray]) -> list[np.ndarray]:
    """Exactly the tensors pixbench feeds, in the same batches, prepared up front (NCHW float32 in [0, 1])."""
    out = []
    for img in images:
        if runner.spec.tile:
            ov = min(runner.overlap, runner.spec.tile[0] // 4)
            tiles = crops(pad_to(img, runner.spec.tile), runner.spec.tile, ov)[0]
            batches = [xb for _, _, xb, _ in runner._chunks(tiles, None)]
        else:
            batches = [img[None]]
        out += [np.ascontiguousarray(b.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255) for b in batches]
    return out


def compare(name: str, path: Path, images: list[np.ndarray], repeats: int, threads: int) -> float:
    model = load_model(path, threads=threads)
    runner = Runner(model, resolve_spec(model, "jpeg"))
    # The bare side is what a user would write: a session with onnxruntime's default options
    # (pixbench's own session stops idle workers spinning after each run; see runtime.OnnxModel).
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    tensors = bare_inputs(runner, images)
    bare, ours = [], []
    for _ in range(repeats + 1):  # the first round warms both up and is not counted
        # Each side starts on a quiet machine: a default session's idle workers spin for tens of
        # milliseconds after its last run, which would otherwise land on the other side's clock.
        time.sleep(QUIET_S)
        t0 = time.perf_counter()
        for t in tensors:
            session.run(None, {"x": t})
        bare.append(time.perf_counter() - t0)
        time.sleep(QUIET_S)
        t0 = time.perf_counter()
        for img in images:
            runner.restore(img)
        ours.append(time.perf_counter() - t0)
    bare, ours = bare[1:], ours[1:]
    ratio = min(ours) / min(bare)
    ratios = [o / b for o, b in zip(ours, bare)]
    extra = (min(ours) - min(bare)) / len(images) * 1e3
    print(
        f"{name:28s} bare {min(bare) * 1e3:8.1f} ms  pixbench {min(ours) * 1e3:8.1f} ms  "
        f"ratio {ratio:.3f} (best/best; per-repeat {min(ratios):.3f}..{max(ratios):.3f})  "
        f"{extra:+.1f} ms/image  [{len(tensors)} session runs]"
    )
    if not runner.spec.tile:
        # For reference only (not the target): a bare loop that starts from the same uint8
        # images and does the least a user's own loop must, i.e. convert in and out.
        plain = []
        for _ in range(repeats):
            time.sleep(QUIET_S)
            t0 = time.perf_counter()
            for img in images:
                x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255)
                y = session.run(None, {"x": x})[0]
                np.clip(np.rint(y[0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
            plain.append(time.perf_counter() - t0)
        print(
            f"{'':28s} (reference: a bare loop that converts uint8 in and out itself: {min(plain) * 1e3:.1f} ms, "
            f"pixbench/that {min(ours) / min(plain):.3f})"
        )
    return ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=4, help="number of images (default 4)")
    p.add_argument("--size", default="384x512", help="image size HxW (default 384x512)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per side (default 5)")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(args.images)]
    print(f"{args.images} images of {h}x{w}, {args.threads} thread(s), best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        ratios = [
            compare("dynamic CNN (whole image)", cnn(Path(tmp) / "dyn.onnx", None), images, args.repeats, args.threads),
            compare(
                "fixed 128x128 CNN (tiles)", cnn(Path(tmp) / "fix.onnx", (128, 128)), images, args.repeats, args.threads
            ),
        ]
    worst = max(ratios)
    print(
        f"harness overhead: {100 * (worst - 1):+.1f}% (worst case); target <= +10%: "
        f"{'pass' if worst <= 1.10 else 'FAIL'}"
    )
    return 0 if worst <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
