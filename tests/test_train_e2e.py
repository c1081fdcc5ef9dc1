"""The whole reference-model flow on real files: build-dataset -> train -> export -> evaluate."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pixbench.cli import app

# A small JPEG recipe on the embedded source: 64x64 crops, 2 per image, on the 16x16 MCU grid.
RECIPE = """\
name: tiny-jpeg-e2e
version: 1
task: jpeg
description: tiny end-to-end check
seed: 7
source: embedded
crop: {size: 64, per_image: 2, align: 16}
splits: {train: 0.5, val: 0.25, test: 0.25}
degradations:
  - op: jpeg
    qualities: [20]
    subsampling: "4:2:0"
"""


def test_build_train_export_evaluate(tmp_path):
    runner = CliRunner()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")

    def run(*args: str) -> None:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, f"{args[0]}: {result.output}"

    run("build-dataset", str(recipe), "-o", str(tmp_path / "ds"), "--limit", "8", "--workers", "1")
    run(
        "train",
        "sepunet-restorer",
        "--dataset",
        str(tmp_path / "ds"),
        "-o",
        str(tmp_path / "run"),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--crop",
        "32",
        "--arg",
        "width=4",
        "--arg",
        "depth=2",
    )
    run("export", str(tmp_path / "run" / "best.pt"), "-o", str(tmp_path / "restorer.onnx"))
    out = tmp_path / "result.json"
    run(
        "evaluate",
        str(tmp_path / "restorer.onnx"),
        "--dataset",
        str(tmp_path / "ds"),
        "-o",
        str(out),
        "--no-speed",
        "--no-lpips",
        "--threads",
        "1",
    )
    doc = json.loads(out.read_text(encoding="utf-8"))
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text(encoding="utf-8"))
    assert doc["task"] == "jpeg" and doc["model"]["name"] == "sepunet-restorer"
    assert doc["model"]["props"]["pixbench.dataset_fingerprint"] == info["fingerprint"]
    assert doc["model"]["props"]["pixbench.recipe"] == "tiny-jpeg-e2e@1"
    assert doc["failures"]["count"] == 0 and doc["dataset"]["samples"] >= 1
    assert 0.0 < doc["metrics"]["model"]["psnr"] < 100.0
