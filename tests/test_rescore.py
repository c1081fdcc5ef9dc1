"""`leaderboards/rescore.py`: a row scored again keeps the speed and environment its file recorded."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from pixbench.results import read_result, write_result
from tests.conftest import REPO_ROOT, load_script

PUBLISHED = REPO_ROOT / "leaderboards"


@pytest.fixture(scope="module")
def rescore():
    yield from load_script(PUBLISHED / "rescore.py", "rescore")


def test_new_scores_old_timing(rescore, tmp_path):
    src = PUBLISHED / "results" / "kodak" / "depixelate-nearest-x4" / "espcn-x4.json"
    shutil.copy(src, tmp_path / "r.json")
    old = read_result(tmp_path / "r.json")
    assert old.speed is not None and old.speed.fps_1080p > 0
    # what `evaluate --no-speed` writes: no speed section, this host's environment, a new metric
    metrics = dataclasses.replace(old.metrics, model={**old.model_metrics, "lpips": 0.25})
    fresh = dataclasses.replace(old, speed=None, metrics=metrics, targets={}, environment=type(old.environment)())
    write_result(tmp_path / "r.json", fresh)
    rescore.rescored(tmp_path / "r.json", old)
    got = read_result(tmp_path / "r.json")
    assert got.model_metrics["lpips"] == 0.25
    assert got.model_metrics["psnr"] == old.model_metrics["psnr"]
    assert got.speed == old.speed and got.environment == old.environment
    # same size and FPS, so the same pass/fail (files written before the accuracy target was the
    # detector's only also list it, as unmeasured, for restoration rows)
    assert got.targets == {k: v for k, v in old.targets.items() if not k.startswith("accuracy")}
    # espcn-x4 ran at 33.1 FPS in the committed speed run (2026-12-07T21:18:36Z, an AVX-512 host)
    assert got.targets["fps_1080p>=30"] is True and got.targets["size<=10MB"] is True


def test_a_row_without_earlier_timing_is_left_as_scored(rescore, tmp_path):
    src = PUBLISHED / "results" / "set14" / "depixelate-nearest-x4" / "espcn-x4.json"
    shutil.copy(src, tmp_path / "r.json")
    before = (tmp_path / "r.json").read_bytes()
    old = read_result(tmp_path / "r.json")
    assert old.speed is None  # Set14 rows are scored without timing (FPS comes from the Kodak run)
    rescore.rescored(tmp_path / "r.json", old)
    assert (tmp_path / "r.json").read_bytes() == before
