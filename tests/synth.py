"""Write tiny, format-conformant dataset folders directly, for unit tests of readers.

These do not go through the builder, so reader-side tests (train, evaluate) do not
depend on it. End-to-end tests use the real ``pixbench build-dataset`` instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pixbench.datasets import FORMAT_NAME, FORMAT_VERSION, MANIFEST_KEY, fingerprint_of, split_file_hashes
from pixbench.images import write_png


def _smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 3 + yy) % 256, (yy * 2 + 40) % 256, (xx + yy * 5) % 256], axis=-1)
    noise = rng.integers(0, 30, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_tiny_dataset(
    root: Path,
    task: str,
    *,
    n: int = 4,
    size: int = 64,
    factor: int = 4,
    splits: tuple[str, ...] = ("train", "val", "test"),
    seed: int = 0,
) -> Path:
    """Write a small dataset of ``task`` under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in splits:
        rows = []
        sdir = root / split
        for i in range(n):
            sid = f"{split}{i:04d}"
            clean = _smooth_image(rng, size, size)
            row = {
                "sample_id": sid,
                "source_id": f"img{i}",
                "source_sha256": "0" * 64,
                "seed": i,
                "input_file_name": f"input/{sid}.png",
                "params": "{}",
            }
            if task == "detect":
                label = i % 2
                img = clean
                if label:
                    small = clean[::factor, ::factor]
                    img = np.repeat(np.repeat(small, factor, 0), factor, 1)
                write_png(sdir / row["input_file_name"], img)
                row.update(label=label, factor=factor if label else "")
            elif task in ("depixelate", "jpeg", "inpaint", "blockcnn"):
                small = (
                    clean.reshape(size // factor, factor, size // factor, factor, 3)
                    .mean((1, 3))
                    .round()
                    .astype(np.uint8)
                )
                degraded = np.repeat(np.repeat(small, factor, 0), factor, 1)
                row["target_file_name"] = f"target/{sid}.png"
                write_png(sdir / row["target_file_name"], clean)
                if task == "depixelate":
                    row["lowres_file_name"] = f"lowres/{sid}.png"
                    row["factor"] = factor
                    write_png(sdir / row["lowres_file_name"], small)
                if task == "inpaint":
                    mask = np.zeros((size, size), np.uint8)
                    mask[4:20, 4:20] = 255
                    degraded = clean.copy()
                    degraded[mask > 0] = 0
                    row["mask_file_name"] = f"mask/{sid}.png"
                    row["holes"] = json.dumps([[4, 4, 16, 16]])
                    write_png(sdir / row["mask_file_name"], mask)
                write_png(sdir / row["input_file_name"], degraded)
            elif task == "jpeg-gray":
                # a gray plane in all three channels, the quality alternating 10 and 20 (levels to filter on)
                gray = np.repeat(clean[..., :1], 3, axis=2)
                noisy = np.clip(gray.astype(int) + rng.integers(-8, 9, gray.shape[:2])[..., None], 0, 255)
                row["target_file_name"] = f"target/{sid}.png"
                row["quality"] = 10 if i % 2 == 0 else 20
                write_png(sdir / row["target_file_name"], gray)
                write_png(sdir / row["input_file_name"], noisy.astype(np.uint8))
            elif task == "localize":  # a mosaic of `factor` blocks over a square at (8, 8), and its mask
                img, mask = clean.copy(), np.zeros((size, size), np.uint8)
                if i % 4:  # about a quarter of the samples have no mosaic
                    side = (size // 2 // factor) * factor
                    box = clean[8 : 8 + side, 8 : 8 + side].astype(np.float64)
                    cells = box.reshape(side // factor, factor, side // factor, factor, 3).mean((1, 3))
                    img[8 : 8 + side, 8 : 8 + side] = np.repeat(np.repeat(cells.round(), factor, 0), factor, 1)
                    mask[8 : 8 + side, 8 : 8 + side] = 255
                row["mask_file_name"] = f"mask/{sid}.png"
                write_png(sdir / row["mask_file_name"], mask)
                write_png(sdir / row["input_file_name"], img.astype(np.uint8))
            else:
                raise ValueError(f"unknown task {task!r}")
            rows.append(row)
        if task == "blockcnn":
            m = n * 4
            np.save(sdir / "triplets_input.npy", rng.integers(0, 256, (m, 24, 24, 3), dtype=np.uint8))
            np.save(sdir / "triplets_target.npy", rng.integers(0, 256, (m, 8, 8, 3), dtype=np.uint8))
            pd.DataFrame({"triplet_id": range(m), "source_id": [f"img{j % n}" for j in range(m)]}).to_csv(
                sdir / "triplets.csv", index=False
            )
        pd.DataFrame(rows).to_csv(sdir / "metadata.csv", index=False)
        counts[split] = {"samples": n, "source_images": n}
    info = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "task": task,
        "recipe": {"name": f"tiny-{task}", "version": 1, "sha256": "0" * 64},
        "pixbench_version": "test",
        "source": {"spec": "synthetic", "name": "synthetic", "license": "n/a", "images": n},
        "seed": seed,
        "splits": counts,
        "skipped": [],
        "inputs": {"depixelate": "pixelated", "inpaint": "holed"}.get(task, "degraded"),
    }
    (root / "dataset.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return reseal(root)


def reseal(root: Path) -> Path:
    """Record ``root``'s split files in its manifest and the fingerprint that follows, as a build does.

    A test that edits a tiny dataset by hand calls this afterwards; without it the reader refuses
    the edited files (see docs/integrity.md).
    """
    info = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    files = split_file_hashes(root)
    info.update({MANIFEST_KEY: files, "fingerprint": fingerprint_of(files, info["recipe"]["sha256"])})
    (root / "dataset.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return root
