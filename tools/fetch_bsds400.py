#!/usr/bin/env python3
"""Fetch the 400 BSDS500 training photos (``train/`` and ``test/``) and check every file's SHA-256.

The reference detectors and the paper-protocol models train on these photos: 400 colour JPEGs
(481x321 or 321x481) of people, animals, buildings, streets, landscapes and objects, from the
Berkeley Segmentation Dataset (BSDS500, released for research use). ``val/`` (100 photos) is left
out on purpose: it is BSDS300's test half, which holds BSD68 and is scored as "BSD100" in SR papers.
None of the 400 is in Kodak, Set5, Set14, Classic5 or LIVE1.

The images are not redistributed with pixbench. This script takes them from a BSDS500 tree: a
clone of a public git repository that keeps the images (the default, cloned with ``git``), or a
folder you already have (``--from``: the official ``BSR_bsds500.tgz`` unpacked, or any clone).
Each file is checked against ``tools/bsds400.sha256`` (committed) and copied into ``OUT`` under its
split name (``train-100075.jpg``); a file with other bytes is refused and counted. The folder is
written under a temporary name and renamed when complete, so an interrupted run leaves nothing
half-written, and an existing complete ``OUT`` is kept as it is.

Usage::

    python tools/fetch_bsds400.py                              # clone, verify, copy to the default OUT
    python tools/fetch_bsds400.py --from ~/data/BSR/BSDS500    # a tree you already have
    pixbench build-dataset detect -o train-ds --source folder:leaderboards/work/sources/bsds400
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HASHES = Path(__file__).with_name("bsds400.sha256")
#: Where ``leaderboards/reproduce.py`` reads the training photos from (git-ignored).
DEFAULT_OUT = REPO / "leaderboards" / "work" / "sources" / "bsds400"
#: A public git repository that keeps the BSDS500 images as the official archive has them.
DEFAULT_GIT = "https://github.com/seyed-mohammadreza-mousavi/HMEGS-BSDS500-Dataset"
SPLITS = ("train", "test")
COUNT = 400


def read_hashes(path: Path = HASHES) -> dict[str, str]:
    """``{"train-100075.jpg": sha256}`` from the committed list."""
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def find_images(root: Path) -> Path:
    """The ``images`` folder (holding ``train/`` and ``test/``) inside a BSDS500 tree."""
    for candidate in [root, *sorted(root.rglob("images"))]:
        if all((candidate / split).is_dir() for split in SPLITS):
            return candidate
    raise SystemExit(f"fetch_bsds400: no BSDS500 images/train and images/test folders under {root}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def collect(images: Path, expected: dict[str, str]) -> tuple[dict[str, Path], list[str]]:
    """The verified files by output name, and the names refused (missing or other bytes)."""
    found: dict[str, Path] = {}
    refused: list[str] = []
    for name, digest in expected.items():
        split, stem = name.split("-", 1)
        path = images / split / stem
        if not path.is_file():
            refused.append(f"{name}: missing")
        elif sha256(path) != digest:
            refused.append(f"{name}: SHA-256 differs")
        else:
            found[name] = path
    return found, refused


def complete(out: Path, expected: dict[str, str]) -> bool:
    """Whether ``out`` already holds exactly the expected files with the expected bytes."""
    if not out.is_dir():
        return False
    names = {p.name for p in out.iterdir() if p.is_file()}
    return names == set(expected) and all(sha256(out / n) == d for n, d in expected.items())


def clone(url: str, into: Path) -> Path:
    print(f"cloning {url} (about 40 MB) ...", flush=True)
    done = subprocess.run(["git", "clone", "--depth", "1", "--quiet", url, str(into)], check=False)
    if done.returncode != 0:
        raise SystemExit(f"fetch_bsds400: git clone {url} failed (exit {done.returncode}); pass --from a local tree")
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, help="a BSDS500 tree on disk (default: clone --git)")
    parser.add_argument("--git", default=DEFAULT_GIT, help="git repository to clone when --from is not given")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)

    expected = read_hashes()
    if len(expected) != COUNT:
        raise SystemExit(f"fetch_bsds400: {HASHES} lists {len(expected)} files, expected {COUNT}")
    out = args.out.resolve()
    if complete(out, expected):
        print(f"{out}: the {COUNT} photos are there and verified")
        return 0
    if out.exists():
        raise SystemExit(f"fetch_bsds400: {out} exists but is not the verified set; move it away first")
    with tempfile.TemporaryDirectory(prefix="bsds400-") as tmp:
        root = args.source.expanduser() if args.source else clone(args.git, Path(tmp) / "clone")
        found, refused = collect(find_images(root), expected)
        for line in refused:
            print(f"refused {line}", file=sys.stderr)
        if refused:
            raise SystemExit(f"fetch_bsds400: {len(refused)} of {COUNT} files refused; {out} not written")
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name, path in sorted(found.items()):
            shutil.copyfile(path, partial / name)
        partial.rename(out)
    print(f"{out}: {len(found)} photos copied and verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
