"""`pixbench leaderboard` on result files and crops images that the tests write (docs/result-format.md)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.images import read_png, write_png
from pixbench.leaderboard import ResultFileError, build_leaderboards

FP_A = "sha256:" + "a" * 64
FP_B = "sha256:" + "b" * 64
RECIPES = {
    "detect": "detect",
    "depixelate": "depixelate-nearest",
    "jpeg": "jpeg",
    "blockcnn": "blockcnn-triplets",
    "inpaint": "inpaint-2x75",
}
TILE = 16
SAMPLES = ["test0000", "test0001", "test0002", "test0003"]


def clean_tiles() -> np.ndarray:
    """Four 16x16 "clean" crops, the same for every result of a benchmark."""
    return np.random.default_rng(0).integers(0, 256, (4, TILE, TILE, 3), dtype=np.uint8)


def write_crops(path: Path, output: np.ndarray, *, clean: np.ndarray | None = None) -> None:
    """A crops image as `pixbench evaluate` writes it: rows degraded / output / clean, one column per sample."""
    clean = clean_tiles() if clean is None else clean
    degraded = clean // 2
    rows = [np.concatenate(list(tiles), axis=1) for tiles in (degraded, output, clean)]
    write_png(path, np.concatenate(rows, axis=0))


def write_result(
    folder: Path,
    stem: str,
    *,
    task: str = "depixelate",
    model: str | None = None,
    metrics: dict,
    degraded: dict | None = None,
    fps: float | None = 40.0,
    size_mb: float = 1.5,
    params: int = 24_000,
    fingerprint: str = FP_A,
    samples: int = 24,
    cpu: str = "Test CPU 3000",
    isa: str | None = "AVX2",
    crops: np.ndarray | None = None,
    lpips_note: str | None = None,
    **extra,
) -> Path:
    """Write one result file in the documented format (and its crops image, if given)."""
    doc = {
        "format": "pixbench-result",
        "format_version": 1,
        "task": task,
        "model": {
            "name": model or stem,
            "file": f"{stem}.onnx",
            "sha256": (stem.encode().hex() * 64)[:64],
            "size_mb": size_mb,
            "params": params,
            "flops_1080p": None,
            "props": {},
            "assumed": {},
        },
        "dataset": {
            "path": "data/x",
            "fingerprint": fingerprint,
            "recipe": {"name": RECIPES[task], "version": 1},
            "source": "kodak",
            "split": "test",
            "samples": samples,
        },
        "settings": {"limit": None},
        "metrics": {
            "model": metrics,
            **({"degraded": degraded} if degraded is not None else {}),
            **({"lpips_note": lpips_note} if lpips_note is not None else {}),
        },
        "failures": {"count": 0, "reasons": {}},
        "speed": {"provider": "CPUExecutionProvider", "threads": 2, "fps_1080p": fps},
        "environment": {"pixbench": "0.1.0", "cpu": cpu, **({"isa": isa} if isa else {}), "cores": 2},
        "per_sample": f"{stem}.samples.csv",
        **extra,
    }
    if crops is not None:
        doc["crops"] = {"file": f"{stem}.crops.png", "size": [TILE, TILE], "samples": SAMPLES}
        write_crops(folder / f"{stem}.crops.png", crops)
    path = folder / f"{stem}.json"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def detect_results(folder: Path) -> None:
    write_result(
        folder,
        "small",
        task="detect",
        size_mb=2.0,
        fps=45.0,
        metrics={"accuracy": 0.95, "precision": 0.96, "recall": 0.94, "f1": 0.95, "fpr": 0.04, "roc_auc": 0.99},
    )
    write_result(
        folder,
        "big",
        task="detect",
        size_mb=12.0,
        fps=31.0,
        metrics={"accuracy": 0.97, "precision": 0.97, "recall": 0.97, "f1": 0.97, "fpr": 0.03, "roc_auc": 0.995},
    )
    write_result(
        folder,
        "constant",
        task="detect",
        size_mb=0.001,
        fps=None,
        metrics={"accuracy": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0, "fpr": 0.0, "roc_auc": 0.5},
    )


def depixelate_results(folder: Path) -> None:
    tiles = clean_tiles()
    degraded = {"psnr": 24.25, "ssim": 0.70, "lpips": 0.40}
    write_result(
        folder, "espcn", metrics={"psnr": 27.5, "ssim": 0.80, "lpips": 0.21}, degraded=degraded, crops=tiles ^ 1
    )
    write_result(
        folder,
        "identity",
        metrics={"psnr": 24.25, "ssim": 0.70, "lpips": None},
        lpips_note="AlexNet weights missing: put alexnet.pth in the hub cache",  # where `pixbench evaluate` writes it
        degraded=degraded,
        crops=tiles // 2,
        fps=900.0,
    )
    write_result(
        folder,
        "unet",
        metrics={"psnr": 28.0, "ssim": 0.83, "lpips": 0.18},
        degraded=degraded,
        crops=tiles ^ 2,
        fps=12.0,
    )


def test_detect_table_ranks_by_accuracy_and_checks_targets(tmp_path):
    detect_results(tmp_path / "results")
    written, warnings = build_leaderboards([tmp_path / "results"], tmp_path / "out")
    assert warnings == [] and [w.table.stem for w in written] == ["detect-v1-kodak"]
    frame = pd.read_csv(tmp_path / "out" / "detect-v1-kodak.csv")  # no options, as the issue asks
    assert list(frame["model"]) == ["big", "small", "constant"]  # accuracy 0.97 > 0.95 > 0.5
    assert frame["accuracy"].dtype == float and frame["accuracy"].tolist() == [0.97, 0.95, 0.5]
    assert frame["fp_rate"].tolist() == [0.03, 0.04, 0.0]
    # targets: >= 90% accuracy, <= 10 MB, >= 30 FPS; big fails on size (12 MB), constant on accuracy, FPS unknown
    assert frame["targets"].tolist() == ["fail", "pass", "fail"]
    assert frame["target_size"].tolist() == ["fail", "pass", "pass"]
    assert frame["target_fps"].fillna("").tolist() == ["pass", "pass", ""]
    assert frame["params"].tolist() == [24000] * 3
    assert frame["result"].tolist() == ["../results/big.json", "../results/small.json", "../results/constant.json"]
    assert frame["dataset_fingerprint"].tolist() == [FP_A] * 3
    assert frame["model_sha256"][0] == (b"big".hex() * 64)[:64]
    md = (tmp_path / "out" / "detect-v1-kodak.md").read_text()
    assert "| 1 | big | 97.00% | 97.00% | 97.00% | 97.00% | 3.00% | 0.9950 | 31.0 | H1 | 12.00 | 24.0k |" in md
    assert "fail: size" in md and "fail: accuracy" in md
    assert "[json](<../results/small.json>)" in md
    assert "H1: FPS at 1920x1080 measured on Test CPU 3000 (AVX2), CPU, 2 threads." in md
    assert not (tmp_path / "out" / "detect-v1-kodak.png").exists()  # figures are for restoration tasks


def test_restoration_table_gains_lpips_note_and_order(tmp_path):
    depixelate_results(tmp_path / "results")
    build_leaderboards([tmp_path / "results"], tmp_path / "out")
    frame = pd.read_csv(tmp_path / "out" / "depixelate-nearest-v1-kodak.csv")
    assert list(frame["model"]) == ["unet", "espcn", "identity"]  # PSNR 28.0 > 27.5 > 24.25
    # gain = model PSNR - degraded PSNR: 28.0 - 24.25 = 3.75, 27.5 - 24.25 = 3.25, identity 0
    assert frame["gain_psnr"].tolist() == pytest.approx([3.75, 3.25, 0.0])
    assert frame["gain_ssim"].tolist() == pytest.approx([0.13, 0.10, 0.0])
    assert frame["lpips"].tolist()[:2] == [0.18, 0.21] and np.isnan(frame["lpips"][2])
    assert frame["lpips_note"].fillna("").tolist()[2].startswith("AlexNet weights missing")
    md = (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text()
    assert "| 1 | unet | 28.00 | 0.8300 | +3.75 | +0.13 | 0.1800 | 12.0 | H1 |" in md
    assert "n/a [1]" in md and "[1] LPIPS n/a: AlexNet weights missing" in md
    assert "| *degraded input* | 24.25 | 0.7000 |" in md
    assert "![depixelate-nearest v1 on kodak" in md


def test_rebuilding_gives_the_same_bytes(tmp_path):
    detect_results(tmp_path / "results")
    depixelate_results(tmp_path / "results")
    inputs = sorted((tmp_path / "results").glob("*.json"))
    build_leaderboards(inputs, tmp_path / "one")
    random.Random(0).shuffle(inputs)  # input order must not matter
    build_leaderboards(inputs, tmp_path / "two")
    build_leaderboards([tmp_path / "results"], tmp_path / "one")  # rebuilt in place, from the folder
    one = {p.name: p.read_bytes() for p in sorted((tmp_path / "one").iterdir())}
    two = {p.name: p.read_bytes() for p in sorted((tmp_path / "two").iterdir())}
    assert sorted(one) == [
        "depixelate-nearest-v1-kodak-speed.png",
        "depixelate-nearest-v1-kodak.csv",
        "depixelate-nearest-v1-kodak.md",
        "depixelate-nearest-v1-kodak.png",
        "detect-v1-kodak-speed.png",
        "detect-v1-kodak.csv",
        "detect-v1-kodak.md",
        "index.md",
    ]
    assert one == two


def test_different_fingerprints_are_separated_or_rejected(tmp_path):
    results = tmp_path / "results"
    write_result(results, "a", metrics={"psnr": 27.0}, fingerprint=FP_A)
    write_result(results, "b", metrics={"psnr": 29.0}, fingerprint=FP_B)
    written, warnings = build_leaderboards([results], tmp_path / "out", figures=False)
    assert sorted(w.table.stem for w in written) == [
        "depixelate-nearest-v1-kodak-aaaaaaaa-test-n24",
        "depixelate-nearest-v1-kodak-bbbbbbbb-test-n24",
    ]
    assert len(warnings) == 1 and "disagree on the evaluation set" in warnings[0]
    assert all(len(w.table.results) == 1 for w in written)
    with pytest.raises(ResultFileError, match="disagree on the evaluation set.*aaaaaaaaaaaa.*bbbbbbbbbbbb"):
        build_leaderboards([results], tmp_path / "strict", strict=True)


def test_fps_from_different_hardware_is_flagged(tmp_path):
    results = tmp_path / "results"
    write_result(results, "a", metrics={"psnr": 27.0}, cpu="Laptop CPU")
    write_result(results, "b", metrics={"psnr": 29.0}, cpu="Server CPU")
    build_leaderboards([results], tmp_path / "out", figures=False)
    md = (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text()
    assert "| 1 | b | 29.00 |" in md and "| H1 |" in md and "| H2 |" in md
    assert "H2: FPS at 1920x1080 measured on Laptop CPU (AVX2)" in md
    assert "**FPS was measured on 2 different setups**" in md
    # one row each: the column is the higher-ranked row's host, and the other row is marked
    assert "FPS 1080p timed on Server CPU (AVX2), run not recorded," in md
    assert "| 40.0 | H1 |" in md and "| 40.0 † | H2 |" in md
    assert "- † a: FPS timed on Laptop CPU (AVX2), run not recorded, frames not recorded." in md


def test_inpaint_sorted_by_hole_psnr_and_jpeg_has_psnr_b(tmp_path):
    results = tmp_path / "results"
    write_result(
        results,
        "sharp",
        task="inpaint",
        metrics={"psnr_hole": 18.0, "l1_hole": 0.1, "psnr_full": 31.0},
        degraded={"psnr_hole": 8.0, "psnr_full": 20.0},
    )
    write_result(
        results,
        "blurry",
        task="inpaint",
        metrics={"psnr_hole": 20.0, "l1_hole": 0.08, "psnr_full": 30.0},
        degraded={"psnr_hole": 8.0, "psnr_full": 20.0},
    )
    write_result(
        results,
        "blockcnn",
        task="jpeg",
        metrics={"psnr": 29.0, "psnr_b": 28.5, "ssim": 0.85},
        degraded={"psnr": 27.0, "psnr_b": 25.5, "ssim": 0.8},
    )
    build_leaderboards([results], tmp_path / "out", figures=False)
    inpaint = pd.read_csv(tmp_path / "out" / "inpaint-2x75-v1-kodak.csv")
    assert list(inpaint["model"]) == ["blurry", "sharp"]  # 20.0 dB in the holes beats 18.0, whatever the full PSNR
    assert inpaint["gain_psnr_hole"].tolist() == [12.0, 10.0]  # 20 - 8, 18 - 8
    jpeg = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak.csv")
    assert jpeg["psnr_b"].tolist() == [28.5] and jpeg["gain_psnr_b"].tolist() == [3.0]  # 28.5 - 25.5


def test_infinite_psnr_and_aggregate_dicts(tmp_path):
    results = tmp_path / "results"
    write_result(
        results,
        "perfect",
        metrics={"psnr": {"mean": float("inf"), "n": 3}, "ssim": {"mean": 1.0}},
        degraded={"psnr": 20.0},
    )
    write_result(results, "good", metrics={"psnr": 35.0, "ssim": 0.99}, degraded={"psnr": 20.0})
    build_leaderboards([results], tmp_path / "out", figures=False)
    frame = pd.read_csv(tmp_path / "out" / "depixelate-nearest-v1-kodak.csv")
    assert list(frame["model"]) == ["perfect", "good"] and np.isinf(frame["psnr"][0])
    assert np.isnan(frame["gain_psnr"][0]) and frame["gain_psnr"][1] == 15.0  # inf gain is left blank, 35 - 20


def test_bad_result_files(tmp_path):
    (tmp_path / "x.json").write_text('{"format": "something-else"}')
    with pytest.raises(ResultFileError, match="not a pixbench result file"):
        build_leaderboards([tmp_path / "x.json"], tmp_path / "out")
    write_result(tmp_path / "r", "a", metrics={"psnr": 1.0})
    doc = json.loads((tmp_path / "r" / "a.json").read_text())
    doc["format_version"] = 2
    (tmp_path / "r" / "a.json").write_text(json.dumps(doc))
    with pytest.raises(ResultFileError, match="format version 2 is not supported"):
        build_leaderboards([tmp_path / "r"], tmp_path / "out")
    del doc["dataset"]["fingerprint"]
    doc["format_version"] = 1
    (tmp_path / "r" / "a.json").write_text(json.dumps(doc))
    with pytest.raises(ResultFileError, match="lacks 'dataset.fingerprint'"):
        build_leaderboards([tmp_path / "r"], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_cli(tmp_path):
    depixelate_results(tmp_path / "results")
    (tmp_path / "results" / "dataset.json").write_text('{"format": "pixbench-dataset"}')  # passed over in folders
    runner = CliRunner()
    ok = runner.invoke(app, ["leaderboard", str(tmp_path / "results"), "-o", str(tmp_path / "out")])
    assert ok.exit_code == 0, ok.output
    assert "depixelate-nearest v1 on kodak" in ok.output
    assert (tmp_path / "out" / "depixelate-nearest-v1-kodak.png").is_file()
    assert "depixelate-nearest-v1-kodak.md" in (tmp_path / "out" / "index.md").read_text()
    (tmp_path / "empty").mkdir()
    bad = runner.invoke(app, ["leaderboard", str(tmp_path / "empty"), "-o", str(tmp_path / "out2")])
    assert bad.exit_code == 1 and "no pixbench result files found" in bad.output
    assert "Traceback" not in bad.output
    help_text = runner.invoke(app, ["leaderboard", "--help"]).output
    assert "--strict" in help_text and "--zoom" in help_text


def test_limited_runs_are_not_ranked_with_full_runs(tmp_path):
    results = tmp_path / "results"
    write_result(results, "full", metrics={"psnr": 27.0})
    write_result(results, "quick", metrics={"psnr": 29.0}, settings={"limit": 4})
    written, warnings = build_leaderboards([results], tmp_path / "out", figures=False)
    assert sorted(w.table.stem for w in written) == [
        "depixelate-nearest-v1-kodak-aaaaaaaa-test-n24",
        "depixelate-nearest-v1-kodak-aaaaaaaa-test-n24-limit4",
    ]
    # a --factor run is a subset too, even with the same sample count
    write_result(results, "x4", metrics={"psnr": 26.0}, settings={"limit": None, "factor": 4})
    written, _ = build_leaderboards([results], tmp_path / "out3", figures=False)
    assert len(written) == 3 and "depixelate-nearest-v1-kodak-aaaaaaaa-test-n24-factor4" in [
        w.table.stem for w in written
    ]
    assert "--limit 4" in warnings[0]
    quick = (tmp_path / "out" / "depixelate-nearest-v1-kodak-aaaaaaaa-test-n24-limit4.md").read_text()
    assert "Scored with `--limit 4`" in quick


def test_failures_are_noted_and_names_escaped(tmp_path):
    results = tmp_path / "results"
    write_result(
        results,
        "odd",
        model="odd|name",
        metrics={"psnr": 27.0},
        failures={"count": 3, "reasons": {"nan": 2, "shape": 1}},
    )
    build_leaderboards([results], tmp_path / "out", figures=False)
    md = (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text()
    assert "| 1 | odd\\|name | 27.00 |" in md
    assert "odd\\|name: 3 samples failed (nan: 2, shape: 1)" in md
    assert pd.read_csv(tmp_path / "out" / "depixelate-nearest-v1-kodak.csv")["model"][0] == "odd|name"


def test_blockcnn_shows_whole_image_and_block_scores(tmp_path):
    results = tmp_path / "results"
    triplets = {"n": 64, "model": {"psnr": 30.5}, "degraded": {"psnr": 28.0}}
    write_result(
        results,
        "blockcnn",
        task="blockcnn",
        metrics={"psnr": 29.0, "psnr_b": 28.5, "ssim": 0.85},
        degraded={"psnr": 27.0, "psnr_b": 25.5, "ssim": 0.8},
    )
    doc = json.loads((results / "blockcnn.json").read_text())
    doc["metrics"]["triplets"] = triplets  # as `pixbench evaluate` records the 24x24 -> 8x8 block scores
    (results / "blockcnn.json").write_text(json.dumps(doc))
    build_leaderboards([results], tmp_path / "out", figures=False)
    frame = pd.read_csv(tmp_path / "out" / "blockcnn-triplets-v1-kodak.csv")
    assert frame["psnr_blocks"].tolist() == [30.5] and frame["gain_psnr_blocks"].tolist() == [2.5]  # 30.5 - 28.0
    md = (tmp_path / "out" / "blockcnn-triplets-v1-kodak.md").read_text()
    assert "| *degraded input* | 27.00 | 25.50 | 0.8000 | 28.00 |" in md


def test_notes_file_adds_lines_under_its_table(tmp_path):
    detect_results(tmp_path / "results")
    notes = tmp_path / "notes.json"
    notes.write_text(
        json.dumps(
            {
                "detect-v1-kodak": ["Trained for 2 epochs: not converged."],
                "jpeg-v1-kodak": ["no such table in this run"],
            }
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    ok = runner.invoke(
        app, ["leaderboard", str(tmp_path / "results"), "-o", str(tmp_path / "out"), "--notes", str(notes)]
    )
    assert ok.exit_code == 0, ok.output
    page = (tmp_path / "out" / "detect-v1-kodak.md").read_text(encoding="utf-8")
    assert "\n- Trained for 2 epochs: not converged.\n" in page
    assert "notes for tables that were not written: jpeg-v1-kodak" in ok.output
    notes.write_text('{"detect-v1-kodak": "one string, not a list"}', encoding="utf-8")
    bad = runner.invoke(
        app, ["leaderboard", str(tmp_path / "results"), "-o", str(tmp_path / "out"), "--notes", str(notes)]
    )
    assert bad.exit_code == 1 and "expected a JSON object mapping table stems to lists of strings" in bad.output
    assert "Traceback" not in bad.output


def write_samples(folder: Path, stem: str, psnr: list[float], *, ssim: float = 0.8) -> None:
    """A per-sample CSV as `pixbench evaluate` writes it: 2 crops per source image, ``<16 hex>-<index>``."""
    rows = ["sample_id,factor,model_psnr,model_ssim,degraded_psnr,degraded_ssim,failure"]
    for i, value in enumerate(psnr):
        rows.append(f"{i // 2:016x}-{i:04d},4,{float(value)!r},{ssim},20.0,0.7,")
    (folder / f"{stem}.samples.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_intervals_paired_tests_and_training_minutes(tmp_path):
    results = tmp_path / "results"
    rng = np.random.default_rng(0)
    base = 25 + rng.normal(0, 1, 12)
    props = {"pixbench.training": json.dumps({"minutes": 12.5, "device": "cpu"})}
    write_result(
        results,
        "best",
        metrics={"psnr": float(np.mean(base + 1)), "ssim": 0.8},
        degraded={"psnr": 20.0},
        model_props=props,
    )
    write_result(results, "twin", metrics={"psnr": float(np.mean(base + 0.999)), "ssim": 0.8}, degraded={"psnr": 20.0})
    write_result(results, "worst", metrics={"psnr": float(np.mean(base)), "ssim": 0.8}, degraded={"psnr": 20.0})
    write_result(results, "unpaired", metrics={"psnr": 10.0, "ssim": 0.5}, degraded={"psnr": 20.0})
    for path in results.glob("*.json"):  # the training prop lives under model.props
        doc = json.loads(path.read_text())
        doc["model"]["props"] = doc.pop("model_props", {})
        path.write_text(json.dumps(doc))
    write_samples(results, "best", list(base + 1))
    write_samples(results, "twin", list(base + 1 + np.tile([0.01, -0.012], 6)))  # differs from best by noise
    write_samples(results, "worst", list(base))
    write_samples(results, "unpaired", list(base[:10] - 15))  # other samples: not paired
    build_leaderboards([results], tmp_path / "out", figures=False)
    frame = pd.read_csv(tmp_path / "out" / "depixelate-nearest-v1-kodak.csv")
    assert list(frame["model"]) == ["best", "twin", "worst", "unpaired"]
    assert (frame["psnr_ci_low"] < frame["psnr"]).all() and (frame["psnr"] < frame["psnr_ci_high"]).all()
    assert frame["ssim_ci_low"][0] == frame["ssim_ci_high"][0] == 0.8  # every crop 0.8
    # best vs twin: per-image differences of -0.001 on all 6 photos, 2**6 = 64 patterns: p = 2/64, significant
    assert frame["p_vs_next"][0] == pytest.approx(round(2 / 64, 6)) and frame["diff_vs_next"][0] == pytest.approx(0.001)
    assert frame["diff_vs_next"][1] == pytest.approx(0.999) and frame["p_vs_next"][1] == pytest.approx(round(2 / 64, 6))
    assert np.isnan(frame["p_vs_next"][2]) and np.isnan(frame["p_vs_next"][3])  # worst and unpaired: other samples
    assert frame["train_min"][0] == 12.5 and frame["train_min"][1:].isna().all()
    md = (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text(encoding="utf-8")
    low, high = frame["psnr_ci_low"][0], frame["psnr_ci_high"][0]
    assert f"| 1 | best | {frame['psnr'][0]:.2f} [{low:.2f}, {high:.2f}] |" in md
    assert "> (p=0.031)" in md and "≈" in md and "| 12.5 |" in md
    assert "**≈** marks an order that is not significant at 5%" in md
    assert "- train min: the training clock up to the kept checkpoint (best validation score)" in md


def test_close_rows_are_marked_as_not_significant(tmp_path):
    results = tmp_path / "results"
    base = list(25.0 + np.arange(12) / 10)
    noise = np.tile([0.05, -0.04, -0.03, 0.02], 3)  # per-photo means +0.005, -0.005, ...: no consistent sign
    write_result(results, "a", metrics={"psnr": 25.56, "ssim": 0.8}, degraded={"psnr": 20.0})
    write_result(results, "b", metrics={"psnr": 25.55, "ssim": 0.8}, degraded={"psnr": 20.0})
    write_samples(results, "a", [v + n for v, n in zip(base, noise)])
    write_samples(results, "b", base)
    build_leaderboards([results], tmp_path / "out", figures=False)
    frame = pd.read_csv(tmp_path / "out" / "depixelate-nearest-v1-kodak.csv")
    assert frame["p_vs_next"][0] >= 0.05
    md = (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text(encoding="utf-8")
    assert "| ≈ (p=" in md


def test_speed_plot_is_deterministic_small_and_linked(tmp_path):
    depixelate_results(tmp_path / "results")
    write_result(
        tmp_path / "results",
        "elsewhere",
        metrics={"psnr": 26.0, "ssim": 0.75},
        degraded={"psnr": 24.25},
        cpu="Other CPU",
        fps=300.0,
    )
    build_leaderboards([tmp_path / "results"], tmp_path / "one")
    build_leaderboards([tmp_path / "results"], tmp_path / "two")
    one = (tmp_path / "one" / "depixelate-nearest-v1-kodak-speed.png").read_bytes()
    assert one == (tmp_path / "two" / "depixelate-nearest-v1-kodak-speed.png").read_bytes()
    assert one.startswith(b"\x89PNG") and len(one) < 150_000 and b"Software" not in one
    assert read_png(tmp_path / "one" / "depixelate-nearest-v1-kodak-speed.png").shape[2] in (3, 4)
    md = (tmp_path / "one" / "depixelate-nearest-v1-kodak.md").read_text(encoding="utf-8")
    assert "(<depixelate-nearest-v1-kodak-speed.png>)" in md


def test_index_puts_sources_side_by_side(tmp_path):
    results = tmp_path / "results"
    write_result(results / "kodak", "espcn", metrics={"psnr": 27.5})
    write_result(results / "set14", "espcn", metrics={"psnr": 26.5}, fingerprint=FP_B)
    doc = json.loads((results / "set14" / "espcn.json").read_text())
    doc["dataset"]["source"] = "set14"
    (results / "set14" / "espcn.json").write_text(json.dumps(doc))
    written, _ = build_leaderboards([results], tmp_path / "out", figures=False)
    assert sorted(w.table.stem for w in written) == ["depixelate-nearest-v1-kodak", "depixelate-nearest-v1-set14"]
    index = (tmp_path / "out" / "index.md").read_text(encoding="utf-8")
    assert "| benchmark | task | kodak | set14 |" in index
    row = next(line for line in index.splitlines() if line.startswith("| depixelate-nearest v1 |"))
    assert "(<depixelate-nearest-v1-kodak.md>): espcn 27.50" in row
    assert "(<depixelate-nearest-v1-set14.md>): espcn 26.50" in row
