"""Training speed, size and 1080p inference speed of every reference model on this machine.

For each registered model at its default options this prints: parameters, ONNX file size,
training samples per second (Adam steps on random batches at the model's training size,
on the CPU with all torch threads) and onnxruntime frames per second at 1920x1080
(2 intra-op threads, the best of ``--runs`` frames after a warm-up). "1080p" means what
each model consumes for one 1920x1080 frame: the frame itself for full-size models, the
x``scale`` low-resolution grid for ``espcn``, and all 240x135 = 32,400 24x24 contexts
for ``blockcnn`` (timed in chunks of 1,024). Other processes share the CPU, so run it twice and compare.

    python benchmarks/train_speed.py [--models espcn,blockcnn] [--steps 5] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from pixbench.export import export_model
from pixbench.models import MODELS, ModelSpec
from pixbench.train.losses import gan_loss

TARGET_FPS = 30.0
#: Speed variants measured after the defaults: the 1080p option of the full-size models.
VARIANTS = (("sepunet-detector", {"unshuffle": 4}), ("sepunet-depixelator", {"unshuffle": 4}))


def _train_batch(spec: ModelSpec, model: nn.Module, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    side = spec.train_crop or 256
    if spec.input_kind == "triplet":
        return torch.rand(batch, 3, 24, 24), torch.rand(batch, 3, 8, 8)
    if spec.input_kind == "lowres":
        return torch.rand(batch, 3, side // model.scale, side // model.scale), torch.rand(batch, 3, side, side)
    if spec.output == "logit":
        return torch.rand(batch, 3, side, side), torch.randint(0, 2, (batch, 1)).float()
    return torch.rand(batch, 4 if spec.input_kind == "masked" else 3, side, side), torch.rand(batch, 3, side, side)


def train_samples_per_s(spec: ModelSpec, model: nn.Module, *, batch: int, steps: int) -> float:
    """Samples per second over ``steps`` optimiser steps after one warm-up step."""
    x, y = _train_batch(spec, model, batch)
    disc = spec.discriminator(width=spec.full_args()["width"]) if spec.discriminator else None
    opt = torch.optim.Adam(list(model.parameters()) + (list(disc.parameters()) if disc else []), lr=1e-4)
    loss_fn = nn.BCEWithLogitsLoss() if spec.output == "logit" else nn.L1Loss()
    model.train()

    def step() -> None:
        opt.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        if disc is not None:  # pix2pix: generator GAN term plus the discriminator's real/fake terms
            loss = (
                100 * loss
                + gan_loss(disc(x, out), True)
                + gan_loss(disc(x, y), True)
                + gan_loss(disc(x, out.detach()), False)
            )
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def fps_1080p(path: Path, spec: ModelSpec, model: nn.Module, *, runs: int) -> float:
    """onnxruntime frames per second for one 1920x1080 frame's worth of input (best of ``runs``)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    frames_per_run = 1.0
    if spec.input_kind == "triplet":
        # 32,400 contexts at once would need gigabytes of activations; time a chunk and scale
        x = np.random.rand(1024, 3, 24, 24).astype(np.float32)
        frames_per_run = 1024 / (240 * 135)
    elif spec.input_kind == "lowres":
        x = np.random.rand(1, 3, 1080 // model.scale, 1920 // model.scale).astype(np.float32)
    else:
        x = np.random.rand(1, 4 if spec.input_kind == "masked" else 3, 1080, 1920).astype(np.float32)
    session.run(None, {"input": x})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, {"input": x})
        times.append(time.perf_counter() - t0)
    return frames_per_run / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS.names()), help="comma-separated registry names")
    parser.add_argument("--batch", type=int, default=8, help="training batch size")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per model")
    parser.add_argument("--runs", type=int, default=5, help="timed 1080p frames per model")
    parser.add_argument("--no-variants", action="store_true", help="skip the unshuffle speed variants")
    args = parser.parse_args()
    names = args.models.split(",")
    todo = [(n, {}) for n in names] + ([] if args.no_variants else [v for v in VARIANTS if v[0] in names])
    print(f"torch threads {torch.get_num_threads()}, onnxruntime threads 2, target {TARGET_FPS:g} FPS at 1080p")
    print(f"{'model':32} {'params':>9} {'onnx MB':>8} {'train samples/s':>16} {'ORT FPS 1080p':>14} {'vs 30 FPS':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in todo:
            spec = MODELS.get(name)
            torch.manual_seed(0)
            model_args = spec.full_args(options)
            model = spec.build(model_args)
            params = sum(p.numel() for p in model.parameters())
            sps = train_samples_per_s(spec, model, batch=args.batch, steps=args.steps)
            report = export_model(model, spec, Path(tmp) / f"{name}.onnx", model_args=model_args)
            fps = fps_1080p(report.path, spec, model, runs=args.runs)
            label = name + "".join(f"[{k}={v}]" for k, v in options.items())
            print(f"{label:32} {params:9d} {report.size_mb:8.3f} {sps:16.1f} {fps:14.2f} {fps / TARGET_FPS:9.2f}x")


if __name__ == "__main__":
    main()
