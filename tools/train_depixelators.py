"""Train and publish the grid depixelators: ``python tools/train_depixelators.py``.

Trains one :class:`~pixbench.forensics.upscaler.GridUpscaler` per factor on
BSD68 and scikit-image's bundled photos (never Kodak or Set14, which are for
testing), on one CPU thread, and writes ``grid-upscaler-x{s}.onnx`` atomically.
The defaults are the settings of the published files
(:data:`pixbench.forensics.upscaler_config.PUBLISHED`, docs/detector.md).
Needs the ``train`` extra (torch).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pixbench.forensics.depixelate import MODEL_DIR
from pixbench.forensics.synthetic import load_folder, skimage_photos
from pixbench.forensics.upscaler import train_upscaler
from pixbench.forensics.upscaler_config import PUBLISHED
from pixbench.forensics.upscaler_onnx import save_depixelator_onnx

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bsd68", type=Path, default=ROOT.parent / "shared" / "datasets" / "bsd68",
                        help="folder of BSD68 images (training photos)")
    parser.add_argument("--scales", type=int, nargs="+", default=sorted(PUBLISHED), help="factors to train")
    parser.add_argument("--steps", type=int, default=None,
                        help="Adam steps per factor (default: the published count of each factor)")
    parser.add_argument("--batch", type=int, default=32, help="crops per step")
    parser.add_argument("--seed", type=int, default=0, help="seed of torch and the crop sampler")
    parser.add_argument("-o", "--out", type=Path, default=MODEL_DIR, help="folder for the ONNX files")
    args = parser.parse_args(argv)
    for s in args.scales:
        if s not in PUBLISHED:
            parser.error(f"--scales: {s} has no published settings; choose from {sorted(PUBLISHED)}")
    if not args.bsd68.is_dir():
        parser.error(f"--bsd68: {args.bsd68} is not a folder; point it at the BSD68 images")
    torch.set_num_threads(1)  # deterministic, and leaves the other core free
    images = load_folder(args.bsd68) + skimage_photos()
    for s in args.scales:
        settings = PUBLISHED[s]
        steps = args.steps or settings.steps
        start = time.perf_counter()

        def progress(phase: str, done: int, total: int | None, /, **values: float) -> None:
            if done % 1000 == 0:
                print(f"{phase} step {done}/{total} L1 {values['loss']:.4f} ({time.perf_counter() - start:.0f} s)",
                      flush=True)

        model = train_upscaler(images, settings.config, steps=steps, batch=args.batch, size=settings.size,
                               seed=args.seed, progress=progress)
        path = save_depixelator_onnx(model, args.out / f"grid-upscaler-x{s}.onnx")
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
