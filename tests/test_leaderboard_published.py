"""The published leaderboard tables rebuild byte for byte from the committed result files.

`leaderboards/reproduce.py` writes the tables with `pixbench leaderboard leaderboards/results -o
leaderboards --strict --zoom 1 --notes leaderboards/notes.json --published leaderboards/published.yaml
--figure-source kodak`; this test runs the same build on a copy of `leaderboards/results` (tables link
to results relative to their folder, so the copy keeps the layout) and compares every Markdown and CSV
table (the breakdown tables `<stem>-by-<column>` included) and the index with the committed one.

Left out: the PNG figures and speed plots, whose bytes depend on the Pillow, matplotlib and
FreeType builds. The tables of Set14, Set5, Classic5 and LIVE1 have no comparison figure (their
images may not be redistributed), so none of their pages links a PNG that is not committed.
"""

from __future__ import annotations

import re
import shutil

import pytest

from pixbench.leaderboard import build_leaderboards, read_notes, read_published
from tests.conftest import REPO_ROOT

PUBLISHED = REPO_ROOT / "leaderboards"


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
        figure_sources=["kodak"],
    )
    stems = sorted(f.stem for w in written for f in w.files if f.suffix == ".csv")
    # the pages across sources are written beside the per-source tables, from them; compared below
    across = sorted(p.name for p in PUBLISHED.glob("*-across-sources.*"))
    assert stems == sorted(p.stem for p in PUBLISHED.glob("*.csv") if not p.stem.endswith("-across-sources"))
    for name in across:
        assert (out / name).read_bytes() == (PUBLISHED / name).read_bytes(), name
    assert (out / "index.md").read_bytes() == (PUBLISHED / "index.md").read_bytes()
    for stem in stems:
        assert (out / f"{stem}.csv").read_bytes() == (PUBLISHED / f"{stem}.csv").read_bytes(), stem
        assert (out / f"{stem}.md").read_bytes() == (PUBLISHED / f"{stem}.md").read_bytes(), stem


def test_no_published_page_links_a_file_that_is_not_there():
    for page in PUBLISHED.glob("*.md"):
        for target in re.findall(r"\]\(<([^>]+)>\)", page.read_text(encoding="utf-8")):
            assert (PUBLISHED / target).is_file(), f"{page.name} links {target}"
    set14 = [p for p in PUBLISHED.glob("*-folder-set14*.md") if "-by-" not in p.stem]
    # no picture cut from these images is linked (training curves carry no test pixels); 9 tables, and the
    # depixelation tables at x2 and x8 (nearest and lanczos)
    assert len(set14) == 9 + 4 and not any(_links_a_picture(p) for p in set14)
    others = [p for source in ("set5", "classic5", "live1") for p in PUBLISHED.glob(f"*-folder-{source}*.md")]
    assert len(others) == 12 and not any(_links_a_picture(p) for p in others)


def _links_a_picture(page) -> bool:
    links = re.findall(r"\]\(<([^>]+\.png)>\)", page.read_text(encoding="utf-8"))
    return any(not link.endswith(".curves.png") for link in links)


def test_no_speed_cell_reads_zero_and_slow_models_read_seconds_per_frame():
    cells = []
    for page in PUBLISHED.glob("*.md"):
        lines = [line for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
        rows = [[cell.strip() for cell in line.strip()[1:-1].split(" | ")] for line in lines]
        if not rows or "FPS 1080p" not in rows[0]:
            continue  # the index
        column = rows[0].index("FPS 1080p")
        cells += [row[column] for row in rows[1:] if "*degraded input*" not in row]
    assert cells and "0.0" not in cells and not any(c.startswith("0.") for c in cells)
    # blockcnn's median latency is 33.9 s per 1080p frame in its result files (the speed run of 2026-12-07T21:18:36Z)
    jpeg = (PUBLISHED / "jpeg-v1-kodak.md").read_text(encoding="utf-8")
    assert "| 34 s/frame | H1 |" in jpeg and "| PSNR dB (RGB) | PSNR-B dB (Y) | SSIM (RGB) |" in jpeg


def test_every_restoration_table_has_an_lpips_number_in_every_row():
    import csv

    from pixbench.tasks import get_task

    checked = 0
    for table in sorted(PUBLISHED.glob("*.csv")):
        with table.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or "lpips" not in rows[0] or "-by-" in table.stem or "across" in table.stem:
            continue
        assert get_task(_task_of(table.stem.split("-v1-")[0])).restores, table.name
        assert [r["model"] for r in rows if r["lpips"] == ""] == [], table.name
        checked += 1
    # depixelate-nearest, depixelate-lanczos, jpeg, blockcnn-triplets, inpaint-2x75 on Kodak and Set14; jpeg-gray on
    # Classic5 and LIVE1; sr-bicubic on Set5 and Set14; depixelation at x2 and x8, nearest and lanczos, on Kodak and Set14
    assert checked == 14 + 8


def _task_of(benchmark: str) -> str:
    """The task of a published benchmark name (``depixelate-nearest`` -> ``depixelate``)."""
    from pixbench.tasks import TASKS

    names = sorted(TASKS, key=len, reverse=True)
    return next(name for name in names if benchmark == name or benchmark.startswith(name + "-"))


def test_every_trained_row_has_its_whole_run_record_and_committed_curves():
    """A trained row (its model carries a `pixbench.training` record) has its curves beside the result, linked
    from its table's train-min cell, and a whole-run record within the 20-minute budget."""
    from pixbench.results import read_result, training_record

    pages = [page.read_text(encoding="utf-8") for page in PUBLISHED.glob("*.md")]
    trained = 0
    for path in sorted((PUBLISHED / "results").glob("*/*/*.json")):
        if path.name == "dataset.json":
            continue
        result = read_result(path)
        record = training_record(result)
        if record is None:
            continue
        trained += 1
        for suffix in (".curves.png", ".metrics.csv"):
            assert path.with_name(path.stem + suffix).is_file(), f"{path}: no {suffix} beside it"
        link = f"results/{path.parent.parent.name}/{path.parent.name}/{path.stem}.curves.png"
        assert any(f"(<{link}>)" in page for page in pages), f"no table links {link}"
        assert record.get("run_minutes") is not None and record["run_minutes"] <= 20.0, path
        assert record.get("run_steps") and record.get("steps") <= record["run_steps"], path
    # 14 trained rows on Kodak and Set14 (2 detectors, both again in detect-hard, 3 + 3 depixelators, blockcnn
    # in two tables, the inpainter, the segmenter), the detectors on Set5 and LIVE1, espcn-x3 on Set5 and Set14,
    # gray-deblocker-q10 on Classic5 and LIVE1
    assert trained == 14 * 2 + 2 * 2 + 2 + 2


def test_the_combined_detector_is_named_as_made_by_combine_in_the_generated_prose():
    # its model file records the rule and both members (pixbench.model_args), which the prose reads
    detect = (REPO_ROOT / "docs" / "tasks" / "detect.md").read_text(encoding="utf-8")
    made = (
        "Made by `pixbench combine` from two models: sepunet-grid-detector (min of sepunet-detector and grid-detector)."
    )
    assert detect.count(made) == 6  # detect on 4 sources, detect-hard on 2
    assert "scored as committed: grid-detector, constant-1." in detect
