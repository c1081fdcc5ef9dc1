"""The detection page across test sources: every detector on every source, the worst source, the targets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pixbench.leaderboard import build_leaderboards
from tests.test_leaderboard import write_result

#: (source, model, accuracy, FP rate), invented; sepunet-detector drops on set14, mobilenetv2 has Kodak only.
ROWS = [
    ("kodak", "sepunet-detector", 0.96, 0.04),
    ("kodak", "mobilenetv2-classifier", 0.95, 0.05),
    ("kodak", "grid-detector", 1.0, 0.0),
    ("folder:set14", "sepunet-detector", 0.93, 0.09),
    ("folder:set14", "grid-detector", 0.99, 0.01),
]


def write_detect(folder: Path, source: str, model: str, accuracy: float, fpr: float) -> None:
    sub = folder / source.split(":")[-1]
    metrics = {"accuracy": accuracy, "precision": 0.9, "recall": 0.9, "f1": 0.9, "fpr": fpr, "roc_auc": 0.9}
    path = write_result(sub, model, task="detect", metrics=metrics, fingerprint="sha256:" + source[-1] * 64)
    doc = json.loads(path.read_text())
    doc["dataset"]["source"] = source
    path.write_text(json.dumps(doc))


def test_page_across_sources_has_each_source_the_worst_and_the_targets(tmp_path):
    results = tmp_path / "results"
    for row in ROWS:
        write_detect(results, *row)
    # grid-detector on kodak: 8 crops of 4 photos, every one right, so both intervals are single points
    lines = ["sample_id,label,score,failure"] + [
        f"{i // 2:016x}-{i:04d},{i % 2},{0.9 if i % 2 else 0.1}," for i in range(8)
    ]
    (results / "kodak" / "grid-detector.samples.csv").write_text("\n".join(lines) + "\n", "utf-8")
    build_leaderboards([results], tmp_path / "out", figures=False)
    page = (tmp_path / "out" / "detect-v1-across-sources.md").read_text("utf-8")
    assert (
        "| # | model | kodak acc | kodak FP | set14 acc | set14 FP | worst acc | worst FP | target (every source) |"
        in page
    )
    assert (
        "| 1 | grid-detector | 100.00% [100.0, 100.0] | 0.00% [0.0, 0.0] | 99.00% | 1.00% | 99.00% (set14) | 1.00% (set14) |  |"
        in page
    )
    assert "| 2 | sepunet-detector | 96.00% | 4.00% | 93.00% | 9.00% | 93.00% (set14) | 9.00% (set14) | fail |" in page
    assert (
        "| 3 | mobilenetv2-classifier | 95.00% | 5.00% | – | – | 95.00% (kodak) | 5.00% (kodak) | incomplete |" in page
    )
    assert "[kodak](<detect-v1-kodak.md>), [set14](<detect-v1-folder-set14.md>)" in page
    assert (
        "mobilenetv2-classifier: accuracy >= 92%, FP rate <= 8%; sepunet-detector: accuracy >= 95%, FP rate <= 5%"
        in page
    )
    frame = pd.read_csv(tmp_path / "out" / "detect-v1-across-sources.csv").set_index("model")
    assert frame.loc["sepunet-detector", "worst_accuracy"] == 0.93
    assert frame.loc["sepunet-detector", "worst_fpr_source"] == "set14"
    assert frame.loc["grid-detector", "kodak_accuracy_ci_low"] == 1.0 and pd.isna(frame.loc["grid-detector", "target"])
    index = (tmp_path / "out" / "index.md").read_text("utf-8")
    assert (
        "[detect v1 across test sources](<detect-v1-across-sources.md>) (detect): every detector on kodak, set14"
        in index
    )


def test_passing_every_source_and_one_source_gets_no_page(tmp_path):
    results = tmp_path / "results"
    write_detect(results, "kodak", "sepunet-detector", 0.96, 0.04)
    build_leaderboards([results], tmp_path / "one", figures=False)
    assert not (tmp_path / "one" / "detect-v1-across-sources.md").exists()
    assert "across test sources" not in (tmp_path / "one" / "index.md").read_text("utf-8")
    write_detect(results, "folder:live1", "sepunet-detector", 0.95, 0.05)  # on the bounds: a pass
    build_leaderboards([results], tmp_path / "two", figures=False)
    page = (tmp_path / "two" / "detect-v1-across-sources.md").read_text("utf-8")
    assert "| 1 | sepunet-detector | 96.00% | 4.00% | 95.00% | 5.00% | 95.00% (live1) | 5.00% (live1) | pass |" in page
