"""Fit the shipped pixelation detector: ``python tools/fit_grid_detector.py BSD68_DIR``.

Fits :func:`detector_fitting.fit_from_images` (beside this file) on BSD68 and
scikit-image's bundled photos (Kodak and Set14 are never used: they are test
sources), writes the parameters (by default over the shipped
``pixbench/forensics/grid_detector.npz``) and, with ``--onnx``, the detector
graph (``leaderboards/models/grid-detector.onnx``). Needs the ``train`` extra (torch).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detector_fitting import fit_from_images
from tuning_photos import load_folder, skimage_photos

from pixbench.forensics.detector import PARAMS_PATH
from pixbench.forensics.onnx_detector import save_detector_onnx


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bsd68", type=Path, help="folder of BSD68 images (tuning source)")
    parser.add_argument("-o", "--output", type=Path, default=PARAMS_PATH, help="where the .npz parameters go")
    parser.add_argument(
        "--onnx",
        type=Path,
        default=None,
        help="also write the detector graph here (e.g. leaderboards/models/grid-detector.onnx)",
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        action="append",
        default=[],
        help="a built detect dataset of training photos (BSD68, embedded; never Kodak or Set14) to fit "
        "on as well: its train split for the MLP, its other splits for the temperature; repeatable",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.bsd68.is_dir():
        parser.error(f"bsd68: {args.bsd68} is not a folder; point it at the BSD68 images")
    params = fit_from_images(load_folder(args.bsd68) + skimage_photos(), seed=args.seed, datasets=args.dataset)
    params.save(args.output)
    print(f"wrote {args.output} (temperature {params.temperature:.3f})")
    if args.onnx is not None:
        print(f"wrote {save_detector_onnx(params, args.onnx)}")


if __name__ == "__main__":
    main()
