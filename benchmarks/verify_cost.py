#!/usr/bin/env python3
"""What verifying a dataset costs ``pixbench evaluate``: the same run with and without the integrity checks.

``evaluate`` reads every sample file once, hashes the bytes it read and decodes them from
memory (``pixbench.datasets``, ``docs/integrity.md``). "Without" replaces the verified read
with a plain one (the file's bytes, no SHA-256, no manifest lookup) and skips the
fingerprint-from-manifest check, so the difference is exactly what verification adds.
The dataset is a real build of the shipped ``jpeg`` recipe (256x256 crops) on the embedded
photos, all in ``test``; the model is the identity baseline, so inference does not hide the
cost. Each side runs ``--repeats`` times, alternating; the best times are compared. The
target is a ratio under 2.0 (verification must not double evaluate's time).

    python benchmarks/verify_cost.py [--images 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pixbench.datasets as datasets
from pixbench.baselines import write_baseline
from pixbench.builder import build_dataset
from pixbench.evaluate import EvaluateOptions, evaluate
from pixbench.recipes import resolve_recipe


def _plain_read(self: datasets.DatasetSplit, rel: str) -> bytes:
    return (self.root / rel).read_bytes()


@contextlib.contextmanager
def unverified() -> Iterator[None]:
    """Evaluate's reads with the hashing and the manifest checks taken out."""
    with (
        mock.patch.object(datasets.DatasetSplit, "read_bytes", _plain_read),
        mock.patch.object(datasets.DatasetSplit, "_verify_file", lambda self, rel: self.root / rel),
        mock.patch.object(datasets, "_manifest", lambda root, info, path: dict(info[datasets.MANIFEST_KEY])),
    ):
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="embedded source images (8 crops of 256x256 each)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        recipe, _ = resolve_recipe("jpeg")
        info = build_dataset(recipe, root / "ds", limit=args.images, split="test").info
        model = write_baseline("identity", root / "identity.onnx", task="jpeg")
        opts = EvaluateOptions(speed=False, lpips=False, threads=1)
        samples = info["splits"]["test"]["samples"]
        times: dict[str, list[float]] = {"verified": [], "unverified": []}
        for _ in range(args.repeats):
            for side in times:
                ctx = unverified() if side == "unverified" else contextlib.nullcontext()
                with ctx:
                    start = time.perf_counter()
                    evaluate(model, root / "ds", root / f"{side}.json", opts)
                    times[side].append(time.perf_counter() - start)
        best = {side: min(t) for side, t in times.items()}
        ratio = best["verified"] / best["unverified"]
        print(f"pixbench evaluate, identity model, {samples} samples of 256x256 (jpeg recipe), best of {args.repeats}")
        print(
            f"{'with verification':>22}: {best['verified']:.3f} s ({1000 * best['verified'] / samples:.2f} ms/sample)"
        )
        print(
            f"{'without verification':>22}: {best['unverified']:.3f} s ({1000 * best['unverified'] / samples:.2f} ms/sample)"
        )
        print(f"{'ratio':>22}: {ratio:.3f} (target < 2.0: {'met' if ratio < 2.0 else 'NOT met'})")


if __name__ == "__main__":
    main()
