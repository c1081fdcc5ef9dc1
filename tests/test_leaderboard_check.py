"""`pixbench leaderboard --check DIR`: the published folder agrees with itself, and an altered copy does not."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.leaderboard import check_leaderboards
from tests.conftest import REPO_ROOT

PUBLISHED = REPO_ROOT / "leaderboards"


@pytest.fixture(scope="module")
def published_copy(tmp_path_factory):
    """The committed leaderboard folder (tables, results, models, notes, targets, README) and the docs it links."""
    root = tmp_path_factory.mktemp("published")
    shutil.copytree(PUBLISHED, root / "leaderboards", ignore=shutil.ignore_patterns("work", "__pycache__"))
    shutil.copytree(REPO_ROOT / "docs", root / "docs")
    return root


@pytest.fixture
def copy(published_copy, tmp_path):
    shutil.copytree(published_copy, tmp_path, dirs_exist_ok=True)
    return tmp_path / "leaderboards"


def test_the_published_folder_passes():
    assert check_leaderboards(PUBLISHED, prose=sorted((REPO_ROOT / "docs" / "tasks").glob("*.md"))) == []
    result = CliRunner().invoke(app, ["leaderboard", "--check", str(PUBLISHED)])
    assert result.exit_code == 0, result.output
    assert "agree" in result.output


def _replace(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_altered_table_cell_is_named(copy):
    # espcn's PSNR on nearest x4 Kodak is 25.41 in its result file (metrics.model.psnr 25.4141...)
    _replace(copy / "depixelate-nearest-v1-kodak.md", "| 4 | espcn | 25.41 ", "| 4 | espcn | 25.51 ")
    _replace(copy / "jpeg-v1-kodak.csv", ",0.029,", ",0.019,")  # blockcnn's FPS, 0.029 in the 2026-12-07T21:18 run
    problems = check_leaderboards(copy)
    assert len(problems) == 2, problems
    assert problems[0].startswith("depixelate-nearest-v1-kodak.md, row '4 espcn', column 'PSNR dB (RGB)': reads '25.51")
    assert (
        "jpeg-v1-kodak.csv, row 'blockcnn', column 'fps_1080p': reads '0.019', the results give '0.029'" in problems[1]
    )


def test_a_changed_model_file_dataset_and_samples_are_named(copy):
    model = copy / "models" / "jpeg" / "identity.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    manifest = copy / "results" / "kodak" / "jpeg" / "dataset.json"
    info = json.loads(manifest.read_text(encoding="utf-8"))
    info["fingerprint"] = "sha256:" + "0" * 64
    manifest.write_text(json.dumps(info), encoding="utf-8")
    samples = copy / "results" / "kodak" / "inpaint-2x75" / "biharmonic.samples.csv"
    samples.write_text("".join(samples.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    problems = check_leaderboards(copy)
    assert any(p.startswith("results/kodak/jpeg/identity.json: model sha256 0dfbb1688748 matches no") for p in problems)
    wrong = [p for p in problems if "dataset.json beside it has sha256:0000" in p]
    assert len(wrong) == 2  # both results scored on that dataset
    assert any("biharmonic.json: 192 samples, but its per-sample file has 191 rows" in p for p in problems)


def test_a_broken_link_and_a_stale_generated_number_are_named(copy):
    (copy / "depixelate-nearest-v1-kodak.png").unlink()
    readme = copy / "README.md"
    _replace(readme, "| PSNR (RGB) 30.97 dB (input 30.09) |", "| PSNR (RGB) 31.10 dB (input 30.09) |")
    problems = check_leaderboards(copy)
    assert problems[0] == "depixelate-nearest-v1-kodak.md: links depixelate-nearest-v1-kodak.png, which does not exist"
    assert problems[1].startswith(f"{readme}: generated block 'targets trained' disagrees with the results")
    assert len(problems) == 2
    result = CliRunner().invoke(app, ["leaderboard", "--check", str(copy)])
    assert result.exit_code == 1 and "2 disagreement(s)" in result.output


def test_check_refuses_other_arguments_and_a_folder_without_results(tmp_path):
    result = CliRunner().invoke(app, ["leaderboard", "--check", str(tmp_path), "-o", str(tmp_path)])
    assert result.exit_code == 1 and "--check DIR takes no RESULTS and no -o" in result.output
    result = CliRunner().invoke(app, ["leaderboard", "--check", str(tmp_path)])
    assert result.exit_code == 1 and "no result files under" in result.output
