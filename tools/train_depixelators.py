"""Train and publish the grid depixelators: ``python tools/train_depixelators.py [--tier quality]``.

Trains one ``grid-upscaler`` (:mod:`pixbench.models.grid_upscaler`) per factor with
:func:`upscaler_training.train_upscaler` (beside this file) on
BSD68 and scikit-image's bundled photos (never Kodak or Set14, which are for
testing) and writes ``<stem>-x{s}.onnx`` atomically: ``grid-upscaler-x{s}`` for
the real-time tier, ``grid-upscaler-hq-x{s}`` for the quality tier. The defaults
are the settings of the published files
(:data:`pixbench.forensics.upscaler_config.TIERS`, docs/detector.md). Training
saves a checkpoint every 500 steps under ``--checkpoints`` and resumes from it
when rerun with the same settings. Needs the ``train`` extra (torch).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tuning_photos import load_folder, skimage_photos
from upscaler_training import train_upscaler

from pixbench.forensics.depixelate import MODEL_DIR
from pixbench.forensics.upscaler_config import TIERS
from pixbench.forensics.upscaler_onnx import save_depixelator_onnx

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--bsd68",
        type=Path,
        default=ROOT.parent / "shared" / "datasets" / "bsd68",
        help="folder of BSD68 images (training photos)",
    )
    parser.add_argument(
        "--tier",
        choices=sorted(TIERS),
        default="realtime",
        help="which tier's published settings to train (default: realtime)",
    )
    parser.add_argument(
        "--scales",
        type=int,
        nargs="+",
        default=None,
        help="factors to train (default: every factor the tier publishes)",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="Adam steps per factor (default: the published count of each factor)"
    )
    parser.add_argument("--batch", type=int, default=None, help="crops per step (default: the published batch)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: deterministic, and leaves the other core free)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of torch and the crop sampler")
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=ROOT / "leaderboards" / "work" / "upscalers",
        help="folder for resumable training checkpoints (not published)",
    )
    parser.add_argument("-o", "--out", type=Path, default=MODEL_DIR, help="folder for the ONNX files")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    stem, published = TIERS[args.tier]
    scales = args.scales or sorted(published)
    for s in scales:
        if s not in published:
            parser.error(
                f"--scales: the {args.tier} tier has no published settings for {s}; choose from {sorted(published)}"
            )
    if not args.bsd68.is_dir():
        parser.error(f"--bsd68: {args.bsd68} is not a folder; point it at the BSD68 images")
    torch.set_num_threads(args.threads)
    images = load_folder(args.bsd68) + skimage_photos()
    for s in scales:
        settings = published[s]
        steps = args.steps or settings.steps
        batch = args.batch or settings.batch
        start = time.perf_counter()

        def progress(phase: str, done: int, total: int | None, /, start: float = start, **values: float) -> None:
            if done % 500 == 0:
                print(
                    f"{phase} step {done}/{total} loss {values['loss']:.5f} ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )

        ckpt = args.checkpoints / f"{stem}-x{s}-seed{args.seed}-b{batch}-n{steps}.pt"
        model = train_upscaler(
            images,
            settings.config,
            steps=steps,
            batch=batch,
            size=settings.size,
            lr=settings.lr,
            mse_tail=settings.mse_tail,
            seed=args.seed,
            checkpoint=ckpt,
            progress=progress,
        )
        name = f"{stem}-x{s}"
        path = save_depixelator_onnx(model, args.out / f"{name}.onnx", name=name)
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
