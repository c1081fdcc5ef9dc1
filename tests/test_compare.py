"""`pixbench compare A.json B.json` on committed result files (leaderboards/results)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from pixbench.cli import app
from tests.conftest import REPO_ROOT


def committed(benchmark: str, model: str):
    found = sorted((REPO_ROOT / "leaderboards" / "results").rglob(f"{benchmark}/{model}.json"))
    if not found:
        pytest.skip(f"no committed result {benchmark}/{model}.json")
    return found[0]


def run(*args: str):
    return CliRunner().invoke(app, ["compare", *map(str, args)])


def test_lanczos_beats_bicubic_on_nearest_x4_with_json():
    a, b = committed("depixelate-nearest-x4", "bicubic-x4"), committed("depixelate-nearest-x4", "lanczos-x4")
    out = run(a, b, "--json", "--top", "3")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["task"] == "depixelate" and doc["samples"] == 70 and doc["subset"] == "--factor 4"
    assert list(doc["metrics"]) == ["psnr", "ssim", "lpips"]
    psnr = doc["metrics"]["psnr"]
    # Independent check with pandas: mean over source images of the per-image mean PSNR difference.
    frame_a = pd.read_csv(a.with_name("bicubic-x4.samples.csv")).set_index("sample_id")
    frame_b = pd.read_csv(b.with_name("lanczos-x4.samples.csv")).set_index("sample_id").loc[frame_a.index]
    per_image = (frame_b["model_psnr"] - frame_a["model_psnr"]).groupby(frame_a.index.str[:16]).mean()
    assert psnr["difference"] == pytest.approx(per_image.mean())
    assert psnr["mean_a"] == pytest.approx(frame_a["model_psnr"].mean())
    assert psnr["images"] == 24 == psnr["b_wins"] + psnr["ties"] + psnr["b_losses"]
    assert psnr["b_wins"] == int((per_image > 0).sum())
    assert 0 < psnr["ci_low"] < psnr["difference"] < psnr["ci_high"] and psnr["p_value"] < 0.05
    worst = psnr["worst_images_for_b"]
    assert [w["image"] for w in worst] == list(per_image[per_image < 0].sort_values().index[:3])
    assert run(a, b, "--json", "--top", "3").output == out.output  # seeded: the same numbers twice


def test_lpips_is_compared_with_lower_better():
    a, b = committed("depixelate-nearest-x4", "bicubic-x4"), committed("depixelate-nearest-x4", "espcn-x4")
    out = run(a, b, "--json", "--top", "0")
    assert out.exit_code == 0, out.output
    lpips = json.loads(out.output)["metrics"]["lpips"]
    # Independent check with pandas on the per-sample files: per-image mean of B - A, then the mean over images.
    frame_a = pd.read_csv(a.with_name("bicubic-x4.samples.csv")).set_index("sample_id")
    frame_b = pd.read_csv(b.with_name("espcn-x4.samples.csv")).set_index("sample_id").loc[frame_a.index]
    per_image = (frame_b["model_lpips"] - frame_a["model_lpips"]).groupby(frame_a.index.str[:16]).mean()
    assert lpips["lower_is_better"] is True
    assert lpips["difference"] == pytest.approx(per_image.mean()) and lpips["difference"] < 0
    assert lpips["mean_a"] == pytest.approx(frame_a["model_lpips"].mean())
    assert lpips["mean_b"] == pytest.approx(frame_b["model_lpips"].mean())
    # B wins where its LPIPS is lower: with lower better, a negative difference is a win
    assert lpips["b_wins"] == int((per_image < 0).sum()) and lpips["b_losses"] == int((per_image > 0).sum())
    assert lpips["ci_low"] < lpips["difference"] < lpips["ci_high"] < 0
    table = run(a, b, "--top", "0").output
    assert "lpips ↓" in table


def test_table_output_and_a_model_against_itself():
    a = committed("depixelate-nearest-x4", "bicubic-x4")
    out = run(a, a)
    assert out.exit_code == 0, out.output
    assert "psnr" in out.output and "B loses to A on no source image" in out.output
    doc = json.loads(run(a, a, "--json").output)
    assert doc["metrics"]["psnr"]["difference"] == 0.0 and doc["metrics"]["psnr"]["p_value"] == 1.0


def test_detection_compares_accuracy_recall_and_fp_rate():
    # mobilenetv2-classifier flags some clean Kodak crops and the grid detector none (detect-v1-kodak.md)
    out = run(committed("detect", "mobilenetv2-classifier"), committed("detect", "grid-detector"), "--json")
    assert out.exit_code == 0, out.output
    metrics = json.loads(out.output)["metrics"]
    assert list(metrics) == ["accuracy", "recall", "fp_rate"]  # precision, F1, ROC-AUC are not per sample
    assert metrics["fp_rate"]["lower_is_better"] and metrics["fp_rate"]["difference"] < 0


def test_results_of_different_evaluation_sets_are_refused(tmp_path):
    nearest = committed("depixelate-nearest-x4", "bicubic-x4")
    lanczos = committed("depixelate-lanczos-x4", "lanczos-x4")
    out = run(nearest, lanczos)
    assert out.exit_code == 1 and "not comparable: dataset fingerprint" in out.output
    assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output
    # the same dataset, but scored on the whole split instead of --factor 4
    copy = tmp_path / "whole.json"
    doc = json.loads(nearest.read_text())
    doc["settings"]["factor"] = None
    copy.write_text(json.dumps(doc))
    shutil.copy(nearest.with_name("bicubic-x4.samples.csv"), tmp_path / "bicubic-x4.samples.csv")
    out = run(nearest, copy)
    assert out.exit_code == 1 and "subset --factor 4 vs whole split" in out.output
    out = run(nearest, committed("detect", "grid-detector"))
    assert out.exit_code == 1 and "task depixelate vs detect" in out.output


def test_lpips_is_left_out_when_one_result_has_none(tmp_path):
    a = committed("depixelate-nearest-x4", "bicubic-x4")
    for name in ("bicubic-x4.json", "bicubic-x4.samples.csv"):
        shutil.copy(a.with_name(name), tmp_path / name)
    frame = pd.read_csv(tmp_path / "bicubic-x4.samples.csv")
    frame["model_lpips"] = float("nan")  # as a result scored with --no-lpips writes it: empty cells
    frame.to_csv(tmp_path / "bicubic-x4.samples.csv", index=False)
    out = run(a, tmp_path / "bicubic-x4.json", "--json", "--top", "0")
    assert out.exit_code == 0, out.output
    assert list(json.loads(out.output)["metrics"]) == ["psnr", "ssim"]
