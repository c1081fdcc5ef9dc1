"""The published detectors on photos they were not made on: scikit-image's bundled sample photos.

The detection tables score Kodak, Set14, Set5 and LIVE1, and settings may not be chosen on
them; this is one more check, on a source that is installed with the package (no download).
It copies 12 sample photos of ``skimage.data`` (greyscale ones as RGB) into a folder, builds
the ``detect`` recipe's test split from it with ``pixbench build-dataset``, scores each
detector with ``pixbench evaluate --no-speed``, and prints accuracy and FP rate over all 12
and over the six greyscale ones, then the clean crops flagged and the pixelated crops
missed, per photo. A photo that fools a detector shows up there by name.

The trained detectors never trained on any of these photos. The grid detector's classifier
was fitted on recipes built from the ``embedded`` source (docs/detector.md), which holds the
six colour photos here; the six greyscale ones (marked ``new``) are new to every detector.

    python benchmarks/detect_untuned.py [--work DIR] [MODEL.onnx ...]

Without models it scores the published ``detect`` models. The photos are not redistributed:
they come from the installed scikit-image, whose documentation gives their sources.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from PIL import Image

from pixbench.sources.embedded import EMBEDDED_PHOTOS

REPO = Path(__file__).resolve().parent.parent
#: The natural photos among ``skimage.data``'s bundled files (drawings, charts, microscopy left out).
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "camera.png",
    "moon.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "brick.png",
    "hubble_deep_field.jpg",
)
MODELS = (
    "leaderboards/models/detect/sepunet-detector.onnx",
    "leaderboards/models/detect/mobilenetv2-classifier.onnx",
    "leaderboards/models/grid-detector.onnx",
    "leaderboards/models/detect/sepunet-grid-detector.onnx",
)


def copy_photos(folder: Path) -> Path:
    """Write the :data:`PHOTOS` of the installed scikit-image into ``folder`` as RGB PNG files."""
    import skimage

    data = Path(skimage.__file__).parent / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        Image.open(data / name).convert("RGB").save(folder / f"{Path(name).stem}.png")
    return folder


def pixbench(*args: str) -> None:
    """Run one ``pixbench`` command as a user types it; stop with its message if it fails."""
    proc = subprocess.run([sys.executable, "-m", "pixbench", *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode:
        sys.exit(f"pixbench {' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


#: The photos of :data:`PHOTOS` outside the ``embedded`` source, as the dataset names them.
NEW = {f"{Path(name).stem}.png" for name in PHOTOS if name not in EMBEDDED_PHOTOS}


def _rates(frame: pd.DataFrame) -> str:
    clean = frame[frame["label"] == 0]
    return f"accuracy {1 - frame['wrong'].mean():.2%}, FP rate {clean['wrong'].mean():.2%} ({len(frame)} crops)"


def per_photo(result: Path, dataset: Path) -> tuple[list[str], pd.DataFrame]:
    """Accuracy and FP rate over all photos and the new ones, and the crops wrong per photo."""
    samples = pd.read_csv(result.with_suffix(".samples.csv"))
    meta = pd.read_csv(dataset / "test" / "metadata.csv")[["sample_id", "source_id"]]
    frame = samples.merge(meta, on="sample_id")
    frame["wrong"] = (frame["score"] >= 0.5) != (frame["label"] == 1)
    lines = [f"all 12: {_rates(frame)}", f"new 6: {_rates(frame[frame['source_id'].isin(NEW)])}"]
    table = frame.pivot_table(index="source_id", columns="label", values="wrong", aggfunc="sum").fillna(0)
    table = table.rename(columns={0: "clean flagged", 1: "pixelated missed"}).astype(int)
    table["new"] = ["new" if name in NEW else "" for name in table.index]
    return lines, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS), help="detect ONNX models (default: the published)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the photos, dataset and results")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="pixbench-untuned-"))
    photos = copy_photos(work / "photos")
    dataset = work / "detect-skimage"
    if not (dataset / "dataset.json").exists():
        pixbench(
            "build-dataset",
            "recipes/detect.yaml",
            "-o",
            str(dataset),
            "--source",
            f"folder:{photos}",
            "--split",
            "test",
        )
    print(f"detect recipe, test split of {len(PHOTOS)} scikit-image sample photos ({dataset})")
    for model in args.models:
        result = work / "results" / f"{Path(model).stem}.json"
        pixbench("evaluate", str(Path(model).resolve()), "--dataset", str(dataset), "-o", str(result), "--no-speed")
        lines, table = per_photo(result, dataset)
        print(f"\n{Path(model).stem}: " + "; ".join(lines))
        wrong = table[table[["clean flagged", "pixelated missed"]].sum(axis=1) > 0]
        print(wrong.to_string() if len(wrong) else "no crop wrong")


if __name__ == "__main__":
    main()
