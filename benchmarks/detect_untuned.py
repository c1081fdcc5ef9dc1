"""The published detectors on photos no one tuned for: scikit-image's bundled sample photos.

The detection tables score Kodak, Set14, Set5 and LIVE1, and settings may not be chosen on
them; this is one more check, on a source that is installed with the package (no download)
and that nothing in pixbench trains or chooses settings on. It copies 12 sample photos of
``skimage.data`` (RGB, greyscale ones as RGB) into a folder, builds the ``detect`` recipe's
test split from it with ``pixbench build-dataset``, scores each detector with ``pixbench
evaluate --no-speed``, and prints accuracy and FP rate, then the clean crops flagged and the
pixelated crops missed, per photo. A photo that fools a detector shows up there by name.

    python benchmarks/detect_untuned.py [--work DIR] [MODEL.onnx ...]

Without models it scores the published ``detect`` models. The photos are not redistributed:
they come from the installed scikit-image, whose documentation gives their sources.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from PIL import Image

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


def per_photo(result: Path, dataset: Path) -> tuple[dict[str, float], pd.DataFrame]:
    """The pooled accuracy and FP rate of one result, and its flagged clean / missed pixelated crops per photo."""
    metrics = json.loads(result.read_text())["metrics"]["model"]
    samples = pd.read_csv(result.with_suffix(".samples.csv"))
    meta = pd.read_csv(dataset / "test" / "metadata.csv")[["sample_id", "source_id"]]
    frame = samples.merge(meta, on="sample_id")
    frame["wrong"] = (frame["score"] >= 0.5) != (frame["label"] == 1)
    table = frame.pivot_table(index="source_id", columns="label", values="wrong", aggfunc="sum").fillna(0)
    table = table.rename(columns={0: "clean flagged", 1: "pixelated missed"}).astype(int)
    return {"accuracy": metrics["accuracy"], "fpr": metrics["fpr"]}, table


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
        pooled, table = per_photo(result, dataset)
        print(f"\n{Path(model).stem}: accuracy {pooled['accuracy']:.2%}, FP rate {pooled['fpr']:.2%}")
        print(table[(table > 0).any(axis=1)].to_string() if (table > 0).any().any() else "no crop wrong")


if __name__ == "__main__":
    main()
