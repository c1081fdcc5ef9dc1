"""A published leaderboard row is reproducible: rebuild its dataset, re-score its model, compare.

This is the check of the published tables (leaderboards/README.md, "One row"): a Kodak test
set is rebuilt with the command line that `leaderboards/reproduce.py` ran, and a published
model is scored on it again: the analytic `grid-detector` on `detect`, and the trained
`espcn-x4` on `depixelate-nearest` (x4). The fingerprint must equal the one in the published
result file, and the metrics must equal the published row.

PNG bytes, and so the fingerprint, depend on the encoders named in ``dataset.json["encoders"]``;
the published ``dataset.json`` beside the results records the ones the table was made with.
With other encoders the test skips and names both (a visible skip, never a silent pass).
"""

from __future__ import annotations

import csv
import json
import math

import pytest
from typer.testing import CliRunner

from pixbench.cli import app
from tests.conftest import REPO_ROOT

RESULTS = REPO_ROOT / "leaderboards" / "results" / "kodak" / "detect"
MODEL = REPO_ROOT / "leaderboards" / "models" / "grid-detector.onnx"
PUBLISHED = RESULTS / "grid-detector.json"
#: Integer counts of the confusion matrix: equal exactly, or the row does not reproduce.
COUNTS = ("tp", "fp", "tn", "fn", "n")
#: Ratios and ROC-AUC. The scores come from float32 onnxruntime kernels, which may round
#: differently on another CPU's instruction set (AVX2 vs AVX-512); 1e-9 still catches any
#: changed decision (one sample of 768 moves accuracy by 1.3e-3) while allowing float noise
#: in the means.
RATIOS = ("accuracy", "precision", "recall", "f1", "fpr", "roc_auc")
#: Per-sample probabilities: float32 output, so differences far below 1e-5 are rounding only.
SCORE_TOLERANCE = 1e-5


def read_scores(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["sample_id"]: (row["label"], row["score"]) for row in csv.DictReader(handle)}


def rebuild_kodak(recipe, published_folder, shared_datasets, data):
    """Build the Kodak test split of ``recipe`` as leaderboards/results/COMMANDS.md does; return its dataset.json.

    Skips (visibly, naming both) when this machine's PNG encoders differ from the published ones,
    since the bytes, and so the fingerprint, may then differ.
    """
    built = CliRunner().invoke(
        app,
        [
            "build-dataset",
            str(REPO_ROOT / "recipes" / f"{recipe}.yaml"),
            "-o",
            str(data),
            "--source",
            f"kodak:{shared_datasets / 'kodak'}",
            "--split",
            "test",
        ],
    )
    assert built.exit_code == 0, built.output
    info = json.loads((data / "dataset.json").read_text(encoding="utf-8"))
    recorded = json.loads((published_folder / "dataset.json").read_text(encoding="utf-8"))
    if info["encoders"] != recorded["encoders"]:
        pytest.skip(
            f"encoders differ, so the PNG bytes may: published with {recorded['encoders']}, "
            f"this build used {info['encoders']}"
        )
    return info


def test_grid_detector_row_of_the_detect_table_reproduces(shared_datasets, tmp_path):
    if not PUBLISHED.is_file():
        pytest.fail(f"{PUBLISHED} is missing: the published detect table has no grid-detector row")
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert (
        published["dataset"]["fingerprint"]
        == json.loads((RESULTS / "dataset.json").read_text(encoding="utf-8"))["fingerprint"]
    )

    runner = CliRunner()
    data = tmp_path / "detect-kodak"
    info = rebuild_kodak("detect", RESULTS, shared_datasets, data)
    assert info["fingerprint"] == published["dataset"]["fingerprint"]

    result = tmp_path / "grid-detector.json"
    scored = runner.invoke(
        app, ["evaluate", str(MODEL), "--dataset", str(data), "--split", "test", "--no-speed", "-o", str(result)]
    )
    assert scored.exit_code == 0, scored.output
    again = json.loads(result.read_text(encoding="utf-8"))
    assert again["model"]["sha256"] == published["model"]["sha256"]
    assert again["dataset"]["samples"] == published["dataset"]["samples"] == 768  # 24 photos x 32 crops
    for key in COUNTS:
        assert again["metrics"]["model"][key] == published["metrics"]["model"][key], key
    for key in RATIOS:
        assert math.isclose(
            again["metrics"]["model"][key], published["metrics"]["model"][key], rel_tol=0, abs_tol=1e-9
        ), key

    mine, theirs = read_scores(result.with_suffix(".samples.csv")), read_scores(RESULTS / published["per_sample"])
    assert mine.keys() == theirs.keys()
    for sample, (label, score) in theirs.items():
        assert mine[sample][0] == label, sample
        assert abs(float(mine[sample][1]) - float(score)) <= SCORE_TOLERANCE, sample


#: A restoration row: PSNR/SSIM are means of float64 metrics over uint8 outputs of float32 kernels;
#: an output pixel that rounds the other way on another CPU moves a 256x256 crop's PSNR by ~1e-4 dB.
RESTORE_TOLERANCE = 1e-3
RESTORE = REPO_ROOT / "leaderboards" / "results" / "kodak" / "depixelate-nearest-x4"


def test_trained_espcn_row_of_the_depixelate_table_reproduces(shared_datasets, tmp_path):
    """A trained reference row (not only the analytic one) re-scores to its published numbers."""
    published_path = RESTORE / "espcn-x4.json"
    if not published_path.is_file():
        pytest.fail(f"{published_path} is missing: the published depixelate-nearest table has no espcn-x4 row")
    published = json.loads(published_path.read_text(encoding="utf-8"))
    assert "pixbench.training" in published["model"]["props"], "the published espcn-x4 row lost its training record"
    runner = CliRunner()
    data = tmp_path / "dpn-kodak"
    info = rebuild_kodak("depixelate-nearest", RESTORE, shared_datasets, data)
    assert info["fingerprint"] == published["dataset"]["fingerprint"]
    result = tmp_path / "espcn-x4.json"
    model = REPO_ROOT / "leaderboards" / "models" / "depixelate-nearest-x4" / "espcn-x4.onnx"
    scored = runner.invoke(
        app,
        [
            "evaluate",
            str(model),
            "--dataset",
            str(data),
            "--split",
            "test",
            "--factor",
            "4",
            "--no-speed",
            "-o",
            str(result),
        ],
    )
    assert scored.exit_code == 0, scored.output
    again = json.loads(result.read_text(encoding="utf-8"))
    assert again["model"]["sha256"] == published["model"]["sha256"]
    assert again["dataset"]["samples"] == published["dataset"]["samples"]
    for key in ("psnr", "ssim"):
        assert math.isclose(
            again["metrics"]["model"][key], published["metrics"]["model"][key], rel_tol=0, abs_tol=RESTORE_TOLERANCE
        ), key
        assert again["metrics"]["degraded"][key] == published["metrics"]["degraded"][key], key
