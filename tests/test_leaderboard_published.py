"""The published leaderboard tables rebuild byte for byte from the committed result files.

`leaderboards/reproduce.py` writes the tables with `pixbench leaderboard leaderboards/results -o
leaderboards --strict --zoom 1 --notes leaderboards/notes.json --published leaderboards/published.yaml`;
this test runs the same build on a copy of `leaderboards/results` (tables link to results relative to
their folder, so the copy keeps the layout) and compares every Markdown and CSV table (the breakdown
tables `<stem>-by-<column>` included) and the index with the committed one.

Left out: the PNG figures and speed plots, whose bytes depend on the Pillow, matplotlib and
FreeType builds; and, in the Markdown of the restoration tables of every source but Kodak, the
comparison figure and its caption, which are made from `<stem>.crops.png` files that are not
committed for those sources (the rebuild notes their absence instead). Everything else in those
tables is compared.
"""

from __future__ import annotations

import shutil

import pytest

from pixbench.leaderboard import build_leaderboards, read_notes, read_published
from tests.conftest import REPO_ROOT

PUBLISHED = REPO_ROOT / "leaderboards"


def without_figure(text: str) -> str:
    """A table's Markdown without its comparison figure: the image, its caption, and notes on missing crops."""
    lines = text.split("\n")
    out, skip = [], 0
    for line in lines:
        if skip:
            skip -= 1
            continue
        if line.startswith("- figure: "):
            continue
        if line.startswith("![") and "degraded, each model, clean" in line:
            out.pop()  # the blank line before the image
            skip = 2  # the blank line and the caption after it
            continue
        out.append(line)
    return "\n".join(out)


@pytest.mark.slow
def test_published_tables_rebuild_byte_identically(tmp_path):
    out = tmp_path / "leaderboards"
    shutil.copytree(PUBLISHED / "results", out / "results")
    written, _ = build_leaderboards(
        [out / "results"],
        out,
        strict=True,
        zoom=1,
        notes=read_notes(PUBLISHED / "notes.json"),
        published=read_published(PUBLISHED / "published.yaml"),
    )
    stems = sorted(f.stem for w in written for f in w.files if f.suffix == ".csv")
    assert stems == sorted(p.stem for p in PUBLISHED.glob("*.csv"))
    assert (out / "index.md").read_bytes() == (PUBLISHED / "index.md").read_bytes()
    without_crops = []
    for stem in stems:
        assert (out / f"{stem}.csv").read_bytes() == (PUBLISHED / f"{stem}.csv").read_bytes(), stem
        mine, theirs = (out / f"{stem}.md").read_text("utf-8"), (PUBLISHED / f"{stem}.md").read_text("utf-8")
        if "has no crops image beside" in mine:
            without_crops.append(stem)
            assert without_figure(mine) == without_figure(theirs), stem
        else:
            assert mine == theirs, stem
    # Only restoration tables of the sources that are not redistributed may lack their crops (their
    # `.crops.png` are not committed, though a machine that ran the evaluations has them); the Kodak
    # tables must rebuild with their figures.
    assert all("-folder-" in s and not s.startswith("detect") and "-by-" not in s for s in without_crops)
    assert "jpeg-v1-folder-set14" in without_crops or (out / "results/set14/jpeg/identity.crops.png").is_file()
