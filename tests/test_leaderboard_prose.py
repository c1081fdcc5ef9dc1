"""Prose that quotes results: generated blocks are fresh, and the hand-written text quotes no result."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from pixbench.leaderboard import build_leaderboards, group_results
from pixbench.leaderboard.prose import ProseError, fill_prose, find_blocks, prose_disagreements
from pixbench.results import collect_result_files, read_result, result_value
from tests.conftest import REPO_ROOT
from tests.test_leaderboard import depixelate_results

PUBLISHED = REPO_ROOT / "leaderboards"
DOCUMENTS = [PUBLISHED / "README.md", *sorted((REPO_ROOT / "docs" / "tasks").glob("*.md"))]

#: A number as a measurement would be quoted: a decimal, or a count with a unit of the tables.
MEASUREMENT = re.compile(r"\d+\.\d+|\b\d[\d,]*\s*(?:dB|FPS|%|min\b|minutes|steps|photos|s/frame|ms)")
#: Numbers the hand-written text may hold, and why none of them is a result.
NOT_RESULTS = {
    "95%": "the confidence of every interval (docs/statistics.md)",
    "5%": "the significance level of the paired marks",
    "0.05": "the same level as a p-value",
    "0.5": "the detection threshold, and retime.py's busiest allowed load average",
    "0.1": "the LPIPS version",
    "1.0": "the mask value in holes",
    "90%": "the detection target",
    "30 FPS": "the speed target",
    "20 minutes": "the training budget the configurations are sized for",
    "24 photos": "Kodak's photos in a test build: checked against dataset.json below",
    "68 photos": "BSD68's photos",
}


@pytest.fixture(scope="module")
def tables():
    results = [read_result(p) for p in collect_result_files([PUBLISHED / "results"])]
    return group_results(results, strict=True)[0]


def _hand_written(text: str) -> str:
    """The text outside generated blocks, code blocks, indented commands and code spans."""
    for block in reversed(find_blocks(text, "")):
        text = text[: block.start] + text[block.end :]
    lines = [line for line in re.sub(r"```.*?```", "", text, flags=re.S).splitlines() if not line.startswith("    ")]
    return "\n".join(re.sub(r"`[^`]*`", "", line) for line in lines)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_generated_blocks_are_fresh(document, tables):
    assert find_blocks(document.read_text(encoding="utf-8"), str(document))
    assert prose_disagreements(document, tables, PUBLISHED) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_hand_written_text_quotes_no_result(document):
    quoted = MEASUREMENT.findall(_hand_written(document.read_text(encoding="utf-8")))
    assert [q for q in quoted if q not in NOT_RESULTS] == []


def test_kodak_test_builds_hold_all_24_photos():
    for manifest in (PUBLISHED / "results" / "kodak").glob("*/dataset.json"):
        assert json.loads(manifest.read_text(encoding="utf-8"))["splits"]["test"]["source_images"] == 24, manifest


def test_the_orders_the_readme_states_hold(tables):
    """README: the push-pull fill beats biharmonic on Kodak, pix2pix ends below its own fill on both
    sources, and on Set14 biharmonic is ahead of both."""

    def holes(stem, row):
        table = next(t for t in tables if t.stem == stem)
        return result_value(next(r for r in table.results if r.path.stem == row), "psnr_hole")

    kodak, set14 = "inpaint-2x75-v1-kodak", "inpaint-2x75-v1-folder-set14"
    assert holes(kodak, "pushpull") > holes(kodak, "pix2pix-inpainter") > holes(kodak, "biharmonic")
    assert holes(set14, "biharmonic") > holes(set14, "pushpull") > holes(set14, "pix2pix-inpainter")


def test_a_stale_block_is_named_and_filled_again(tmp_path, tables):
    folder = tmp_path / "leaderboards"  # links are relative to the document, targets are read from the folder
    folder.mkdir()
    shutil.copyfile(PUBLISHED / "targets.json", folder / "targets.json")
    document = folder / "README.md"
    shutil.copyfile(PUBLISHED / "README.md", document)
    text = document.read_text(encoding="utf-8")
    document.write_text(text.replace("| 8 | 22 | 64 |", "| 8 | 24 | 64 |"), encoding="utf-8")
    (problem,) = prose_disagreements(document, tables, folder)
    assert "generated block 'photos kodak' disagrees with the results" in problem
    assert "| 8 | 24 | 64 |" in problem and "| 8 | 22 | 64 |" in problem  # lanczos x4 scores 22 Kodak photos
    assert fill_prose(document, tables, folder) == text


def test_build_fills_the_readme_of_the_output_folder(tmp_path):
    depixelate_results(tmp_path / "results")
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text(
        "Before.\n<!-- pixbench:begin photos kodak -->\nold\n<!-- pixbench:end -->\nAfter.\n", encoding="utf-8"
    )
    build_leaderboards([tmp_path / "results"], out, figures=False)
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("Before.\n<!-- pixbench:begin photos kodak -->\n| table | rows |")
    assert "| [`depixelate-nearest-v1-kodak`](<depixelate-nearest-v1-kodak.md>) | 3 |" in text
    assert text.endswith("<!-- pixbench:end -->\nAfter.\n")


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("<!-- pixbench:begin photos kodak -->\nno end\n", "has no '<!-- pixbench:end -->' after it"),
        ("<!-- pixbench:begin tables kodak -->\n<!-- pixbench:end -->\n", "unknown generated block 'tables kodak'"),
        ("<!-- pixbench:begin photos bsd68 -->\n<!-- pixbench:end -->\n", "no table of source 'bsd68'"),
        ("<!-- pixbench:begin targets nothing -->\n<!-- pixbench:end -->\n", "has no group 'nothing'"),
    ],
)
def test_malformed_blocks_are_refused_in_one_line(tmp_path, tables, block, message):
    document = tmp_path / "doc.md"
    document.write_text(block, encoding="utf-8")
    with pytest.raises(ProseError, match=re.escape(message)):
        fill_prose(document, tables, PUBLISHED)
