"""Train and publish the grid depixelators: ``python -m pixbench.forensics.train_depixelators``.

Trains one :class:`~pixbench.forensics.upscaler.GridUpscaler` per factor on
BSD68 and scikit-image's bundled photos (never Kodak or Set14, which are for
testing), on one CPU thread, and writes ``grid-upscaler-x{s}.onnx`` atomically.
The defaults are the settings of the published files (docs/detector.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pixbench.forensics.synthetic import load_folder, skimage_photos
from pixbench.forensics.upscaler import UpscalerConfig, train_upscaler
from pixbench.forensics.upscaler_onnx import save_depixelator_onnx

MODEL_DIR = Path(__file__).resolve().parent.parent.parent / "leaderboards" / "models"
#: Published settings per factor: network options, the training crop side (output pixels) and
#: the Adam steps. Features plus carried grid channels make 32, a multiple of the 16-float blocks
#: onnxruntime's NCHWc convolutions use on AVX-512: at 1080p such a graph measured as fast as a
#: 1-GMAC one of 19 channels (docs/detector.md).
PUBLISHED = {
    2: (UpscalerConfig(scale=2, channels=20, layers=1), 96, 20000),
    4: (UpscalerConfig(scale=4, channels=29, layers=2), 96, 36000),
    8: (UpscalerConfig(scale=8, channels=29, layers=3), 128, 20000),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bsd68", type=Path, default=MODEL_DIR.parent.parent.parent / "shared" / "datasets" / "bsd68",
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
        config, size, published_steps = PUBLISHED[s]
        steps = args.steps or published_steps
        start = time.perf_counter()

        def progress(step: int, loss: float) -> None:
            if (step + 1) % 1000 == 0:
                print(f"x{s} step {step + 1}/{steps} L1 {loss:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)

        model = train_upscaler(images, config, steps=steps, batch=args.batch, size=size, seed=args.seed,
                               progress=progress)
        path = save_depixelator_onnx(model, args.out / f"grid-upscaler-x{s}.onnx")
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
