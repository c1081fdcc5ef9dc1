"""Breakdown tables (one table per level of a column the task lists) and the ``published`` column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.leaderboard import PublishedFileError, build_leaderboards, parse_published, read_published
from tests.test_leaderboard import detect_results, write_result

PAPER = "Someone et al.: A Paper, 2021, Table 2"


def jpeg_breakdown(values: dict[str, float], degraded: dict[str, float]) -> dict:
    """A result's ``breakdown`` section as evaluate writes it: means per quality of model and input."""
    return {
        "quality": {
            q: {"n": 6, "model_psnr": v, "model_ssim": 0.8, "degraded_psnr": degraded[q], "degraded_ssim": 0.7}
            for q, v in values.items()
        }
    }


def jpeg_samples(folder: Path, stem: str, psnr: dict[str, list[float]]) -> None:
    """A per-sample CSV with a quality column: 6 photos (one sample each) per quality."""
    lines = ["sample_id,quality,model_psnr,model_ssim,degraded_psnr,degraded_ssim,failure"]
    for q, values in psnr.items():
        for photo, value in enumerate(values):
            lines.append(f"{photo:016x}-{int(q):04d},{q},{value!r},0.8,20.0,0.7,")
    (folder / f"{stem}.samples.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def jpeg_results(tmp_path) -> Path:
    """Two models: ``a`` is better at q10 and worse at q40, by 1 dB on every photo; ``a`` wins pooled."""
    folder = tmp_path / "results"
    base = [30.0, 31.0, 29.5, 30.5, 32.0, 28.0]
    per_model = {
        "a": {"10": [v + 1 for v in base], "40": [v + 5 for v in base]},
        "b": {"10": base, "40": [v + 6 for v in base]},
    }
    degraded = {"10": 25.0, "40": 33.0}
    for stem, psnr in per_model.items():
        means = {q: float(np.mean(v)) for q, v in psnr.items()}
        overall = float(np.mean([v for vs in psnr.values() for v in vs]))
        write_result(
            folder,
            stem,
            task="jpeg",
            metrics={"psnr": overall, "ssim": 0.8, "psnr_b": overall - 1},
            degraded={"psnr": 29.0, "ssim": 0.7, "psnr_b": 27.0},
            samples=12,
            breakdown=jpeg_breakdown(means, degraded),
        )
        jpeg_samples(folder, stem, psnr)
    return folder


def published_file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "references": {"paper-t2": PAPER}, "rows": rows}), "utf-8")
    return path


def test_each_quality_gets_its_own_ranked_table_with_intervals(jpeg_results, tmp_path):
    written, warnings = build_leaderboards([jpeg_results], tmp_path / "out", figures=False)
    assert warnings == []
    files = [f.name for f in written[0].files]
    assert files == [
        "jpeg-v1-kodak.md",
        "jpeg-v1-kodak.csv",
        "jpeg-v1-kodak-by-quality.md",
        "jpeg-v1-kodak-by-quality.csv",
    ]
    frame = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak-by-quality.csv")
    assert list(zip(frame["quality"], frame["model"])) == [(10, "a"), (10, "b"), (40, "b"), (40, "a")]
    # the means are the breakdown section's: mean of base (30.1667) + 1 for a at q10, + 6 for b at q40
    assert frame["psnr"].tolist() == pytest.approx([31.166667, 30.166667, 36.166667, 35.166667], abs=1e-6)
    assert frame["gain_psnr"].tolist() == pytest.approx([6.166667, 5.166667, 3.166667, 2.166667], abs=1e-6)
    assert (frame["psnr_ci_low"] < frame["psnr"]).all() and (frame["psnr"] < frame["psnr_ci_high"]).all()
    # a row against the next over the level's 6 photos: +1 dB on each, an exact sign-flip p of 2 / 2**6
    assert frame["diff_vs_next"][0] == pytest.approx(1.0) and frame["p_vs_next"][0] == pytest.approx(2 / 64)
    assert frame["n"].tolist() == [6, 6, 6, 6]
    assert "psnr_published" not in frame
    md = (tmp_path / "out" / "jpeg-v1-kodak-by-quality.md").read_text("utf-8")
    assert "## quality 10 (6 samples)" in md and "## quality 40 (6 samples)" in md
    assert "| 1 | a | 31.17 [" in md and "|  | *degraded input* | 25.00 |" in md
    assert "published" not in md and "[The whole table](<jpeg-v1-kodak.md>)" in md


def test_a_column_with_one_level_gets_no_table(tmp_path):
    folder = tmp_path / "results"
    write_result(
        folder,
        "a",
        task="jpeg",
        metrics={"psnr": 30.0, "ssim": 0.8, "psnr_b": 29.0},
        breakdown=jpeg_breakdown({"20": 30.0}, {"20": 28.0}),
    )
    written, _ = build_leaderboards([folder], tmp_path / "out", figures=False)
    assert [f.name for f in written[0].files] == ["jpeg-v1-kodak.md", "jpeg-v1-kodak.csv"]


def test_published_values_sit_beside_the_metric_with_the_reference(jpeg_results, tmp_path):
    rows = [
        {"table": "jpeg-v1-kodak", "model": "a", "where": {"quality": 10}, "metrics": {"psnr": 31.2}, "reference": "paper-t2"},
        {"table": "jpeg-v1-kodak", "model": "b", "where": {}, "metrics": {"psnr": 32.5, "ssim": 0.81}, "reference": "paper-t2"},
    ]  # fmt: skip
    written, warnings = build_leaderboards(
        [jpeg_results], tmp_path / "out", figures=False, published=read_published(published_file(tmp_path, rows))
    )
    assert warnings == []
    levels = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak-by-quality.csv")
    assert levels["psnr_published"].tolist()[0] == 31.2 and levels["psnr_published"][1:].isna().all()
    assert "ssim_published" not in levels  # no level row has one
    page = (tmp_path / "out" / "jpeg-v1-kodak-by-quality.md").read_text("utf-8")
    assert "| # | model | PSNR dB (RGB) | published | SSIM (RGB) | Δ PSNR |" in page
    assert "| 31.2 | 0.8000 [0.800, 0.800] |" in page
    assert f"[paper-t2] {PAPER}." in page
    whole = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak.csv")
    assert list(whole.columns[3:9]) == [
        "psnr_ci_low",
        "psnr_ci_high",
        "psnr_published",
        "psnr_b",
        "ssim",
        "ssim_ci_low",
    ]
    assert whole.set_index("model")["psnr_published"].to_dict()["b"] == 32.5
    main = (tmp_path / "out" / "jpeg-v1-kodak.md").read_text("utf-8")
    assert "| # | model | PSNR dB (RGB) | published | PSNR-B dB (Y) | SSIM (RGB) | published |" in main
    assert "- published: the value the literature reports for this row under the same protocol" in main


def test_tables_without_published_rows_keep_their_bytes(jpeg_results, tmp_path):
    build_leaderboards([jpeg_results], tmp_path / "plain", figures=False)
    rows = [{"table": "other-v1-kodak", "model": "a", "where": {}, "metrics": {"psnr": 1.0}, "reference": "paper-t2"}]
    _, warnings = build_leaderboards(
        [jpeg_results], tmp_path / "with", figures=False, published=read_published(published_file(tmp_path, rows))
    )
    assert warnings == ["published row for other-v1-kodak (a, the whole table) matches no table written"]
    for name in (
        "jpeg-v1-kodak.md",
        "jpeg-v1-kodak.csv",
        "jpeg-v1-kodak-by-quality.md",
        "jpeg-v1-kodak-by-quality.csv",
    ):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "with" / name).read_bytes(), name


def test_published_rows_for_no_level_or_no_column_are_warned(jpeg_results, tmp_path):
    rows = [
        {"table": "jpeg-v1-kodak", "model": "a", "where": {"quality": 30}, "metrics": {"psnr": 1.0}, "reference": "paper-t2"},
        {"table": "jpeg-v1-kodak", "model": "a", "where": {}, "metrics": {"psnr": 1.0, "vif": 0.5}, "reference": "paper-t2"},
    ]  # fmt: skip
    _, warnings = build_leaderboards(
        [jpeg_results], tmp_path / "out", figures=False, published=read_published(published_file(tmp_path, rows))
    )
    assert warnings == [
        "published row for jpeg-v1-kodak (a, quality=30) matches no table written",
        "published row for jpeg-v1-kodak (a): 'vif' is not a column of that table",
    ]


ROW = {"table": "t", "model": "m", "where": {}, "metrics": {"psnr": 30.0}, "reference": "r"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"version": 2, "references": {}, "rows": []}, r"version: expected 1, got 2"),
        ({"version": 1, "references": {}}, r"the file: missing key 'rows'"),
        ({"version": 1, "references": {"r": "x"}, "rows": [{**ROW, "note": 1}]}, r"rows\[0\]: unknown key 'note'"),
        ({"version": 1, "references": {}, "rows": [ROW]}, r"rows\[0\].reference: 'r' is not in references"),
        (
            {"version": 1, "references": {"r": "x"}, "rows": [{**ROW, "metrics": {"psnr": "high"}}]},
            r"rows\[0\].metrics.psnr: expected a finite number, got 'high'",
        ),
        (
            {"version": 1, "references": {"r": "x"}, "rows": [{**ROW, "where": {"quality": 1.5}}]},
            r"rows\[0\].where.quality: expected an integer or a non-empty string, got 1.5",
        ),
        ({"version": 1, "references": {"r": "x"}, "rows": [ROW, ROW]}, r"rows\[1\] repeats rows\[0\]"),
        ({"version": 1, "references": {"bad key": "x"}, "rows": []}, r"references.bad key: expected a key like"),
        ([1, 2], r"the file: expected a mapping with string keys, got list"),
    ],
)
def test_a_bad_published_file_is_one_line(doc, message):
    with pytest.raises(PublishedFileError, match=message) as info:
        parse_published(doc, where="p.yaml")
    assert str(info.value).startswith("--published p.yaml: ") and "\n" not in str(info.value)


def test_cli_reads_the_published_file_and_refuses_a_broken_one(jpeg_results, tmp_path):
    rows = [{"table": "jpeg-v1-kodak", "model": "b", "where": {"quality": "40"}, "metrics": {"psnr": 36.0}, "reference": "paper-t2"}]  # fmt: skip
    good = published_file(tmp_path, rows)
    runner = CliRunner()
    ok = runner.invoke(app, ["leaderboard", str(jpeg_results), "-o", str(tmp_path / "out"), "--published", str(good)])
    assert ok.exit_code == 0, ok.output
    frame = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak-by-quality.csv")
    assert frame.set_index(["quality", "model"])["psnr_published"][(40, "b")] == 36.0
    good.write_text("version: 1\nreferences: {}\nrows: [\n", encoding="utf-8")
    bad = runner.invoke(app, ["leaderboard", str(jpeg_results), "-o", str(tmp_path / "out"), "--published", str(good)])
    assert bad.exit_code == 1 and "not valid YAML" in bad.output and "Traceback" not in bad.output


def test_detection_levels_leave_out_rates_without_a_denominator(tmp_path):
    folder = tmp_path / "results"
    detect_results(folder)
    for path in folder.glob("*.json"):  # positives of factor 4 and 8; negatives of kind clean
        doc = json.loads(path.read_text())
        counts = {"4": (9, 1, 0, 0), "8": (10, 0, 0, 0), "": (0, 0, 18, 2)}
        doc["breakdown"] = {
            "factor": {f: {"n": sum(c), "accuracy": (c[0] + c[2]) / sum(c), "precision": 1.0 if c[0] else 0.0,
                           "recall": c[0] / max(1, c[0] + c[1]), "f1": 0.5, "fpr": c[3] / max(1, c[2] + c[3]),
                           "tp": c[0], "fn": c[1], "tn": c[2], "fp": c[3]} for f, c in counts.items()},
        }  # fmt: skip
        path.write_text(json.dumps(doc))
    written, _ = build_leaderboards([folder], tmp_path / "out", figures=False)
    assert [f.name for f in written[0].files][2:] == ["detect-v1-kodak-by-factor.md", "detect-v1-kodak-by-factor.csv"]
    frame = pd.read_csv(tmp_path / "out" / "detect-v1-kodak-by-factor.csv")
    assert frame["factor"].tolist() == [4, 4, 4, 8, 8, 8]  # the negatives (no factor) are no level
    assert frame["accuracy"].tolist() == [0.9] * 3 + [1.0] * 3
    assert "fp_rate" not in frame  # levels of positives only have no FP rate: no column
    assert frame["recall"].tolist() == [0.9] * 3 + [1.0] * 3


def test_published_numbers_keep_the_papers_digits(jpeg_results, tmp_path):
    path = tmp_path / "published.yaml"
    path.write_text(
        "version: 1\nreferences: {paper-t2: A Paper}\nrows:\n"
        "  - {table: jpeg-v1-kodak, model: a, where: {quality: 10}, metrics: {psnr: 31.20, ssim: .760},"
        " reference: paper-t2}\n",
        encoding="utf-8",
    )
    build_leaderboards([jpeg_results], tmp_path / "out", figures=False, published=read_published(path))
    page = (tmp_path / "out" / "jpeg-v1-kodak-by-quality.md").read_text("utf-8")
    assert "| 31.17 [" in page and "| 31.20 | 0.8000 [0.800, 0.800] | .760 |" in page  # as written, zeros kept
    frame = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak-by-quality.csv")
    assert frame["ssim_published"][0] == 0.76


def test_a_papers_block_quotes_each_published_row_beside_pixbench(jpeg_results, tmp_path):
    from pixbench.leaderboard.prose import ProseError, fill_prose

    out = tmp_path / "out"
    rows = [
        {"table": "jpeg-v1-kodak", "model": "a", "where": {"quality": 10}, "metrics": {"psnr": 31.2}, "reference": "paper-t2"},
        {"table": "jpeg-v1-kodak", "model": "b", "where": {}, "metrics": {"ssim": 0.79}, "reference": "paper-t2"},
    ]  # fmt: skip
    out.mkdir()
    (out / "published.yaml").write_text(published_file(tmp_path, rows).read_text("utf-8"), "utf-8")
    page = out / "page.md"
    page.write_text("<!-- pixbench:begin papers jpeg -->\n<!-- pixbench:end -->\n", encoding="utf-8")
    written, _ = build_leaderboards(
        [jpeg_results], out, figures=False, published=read_published(out / "published.yaml")
    )
    text = fill_prose(page, [w.table for w in written], out)
    lines = text.splitlines()
    assert lines[3] == "| [`jpeg-v1-kodak`](<jpeg-v1-kodak.md>) | all | b | SSIM (RGB) 0.8000 (paper 0.79) | paper-t2 |"
    assert lines[4] == (
        "| [`jpeg-v1-kodak-by-quality`](<jpeg-v1-kodak-by-quality.md>) | quality 10 | a | "
        "PSNR (RGB) 31.17 dB (paper 31.2) | paper-t2 |"
    )
    # a's q10 mean is 30.1667 + 1 (the fixture's photos); b's SSIM 0.8 against 0.79
    assert (
        lines[6]
        == "Largest difference from the papers, per table: `jpeg-v1-kodak` SSIM (RGB) 0.0100, PSNR (RGB) 0.033 dB."
    )
    (out / "published.yaml").unlink()
    with pytest.raises(ProseError, match="no row of task 'jpeg' has a published number"):
        fill_prose(page, [w.table for w in written], out)


# Rows scored on one level of a mixed dataset (`evaluate --quality Q` / `--factor F`) in the tables.

BASE = [30.0, 31.0, 29.5, 30.5, 32.0, 28.0]  # the jpeg_results fixture's photos at q10, model b


def write_q10_row(folder: Path, stem: str = "c", quality: int = 10) -> None:
    """A model scored with ``--quality 10`` alone: 2 dB above ``b`` (1 dB above ``a``) on each q10 photo."""
    psnr = {str(quality): [v + 2 for v in BASE]}
    mean = float(np.mean(psnr[str(quality)]))
    write_result(
        folder,
        stem,
        task="jpeg",
        metrics={"psnr": mean, "ssim": 0.8, "psnr_b": mean - 1},
        degraded={"psnr": 25.0, "ssim": 0.7, "psnr_b": 24.0},
        samples=6,
        breakdown=jpeg_breakdown({str(quality): mean}, {str(quality): 25.0}),
        settings={"limit": None, "factor": None, "quality": quality},
    )
    jpeg_samples(folder, stem, psnr)


def test_a_quality_filtered_row_is_ranked_only_in_its_levels_table(jpeg_results, tmp_path):
    write_q10_row(jpeg_results)
    written, warnings = build_leaderboards([jpeg_results], tmp_path / "out", figures=False, strict=True)
    assert warnings == []
    assert [w.table.stem for w in written] == ["jpeg-v1-kodak"]  # the published stem is kept: no separate table
    whole = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak.csv")
    assert whole["model"].tolist() == ["a", "b"]  # pooled over q10 and q40: c is not ranked there
    main = (tmp_path / "out" / "jpeg-v1-kodak.md").read_text("utf-8")
    assert (
        "- c was scored on quality 10 only (`--quality 10`): it is ranked in the "
        "[quality 10 table](<jpeg-v1-kodak-by-quality.md>), not here, where the means pool every quality." in main
    )
    levels = pd.read_csv(tmp_path / "out" / "jpeg-v1-kodak-by-quality.csv")
    assert list(zip(levels["quality"], levels["model"])) == [(10, "c"), (10, "a"), (10, "b"), (40, "b"), (40, "a")]
    # c's q10 mean is mean(BASE) + 2 = 32.1667; against a (mean(BASE) + 1) it is +1 dB on each of the 6 photos,
    # so the exact sign-flip p is 2 / 2**6, as between a and b
    assert levels["psnr"][0] == pytest.approx(float(np.mean(BASE)) + 2, abs=1e-6)
    assert levels["diff_vs_next"][0] == pytest.approx(1.0) and levels["p_vs_next"][0] == pytest.approx(2 / 64)
    assert levels["n"].tolist() == [6, 6, 6, 6, 6]
    page = (tmp_path / "out" / "jpeg-v1-kodak-by-quality.md").read_text("utf-8")
    assert "| 1 | c | 32.17 [" in page
    assert "- c: scored on quality 10 alone (`--quality 10`), so it is ranked in that table only" in page


def test_a_target_can_name_a_level_row_and_reads_its_level_numbers(jpeg_results, tmp_path):
    from pixbench.leaderboard.goals import Goal, find_row, judge

    write_q10_row(jpeg_results)
    written, _ = build_leaderboards([jpeg_results], tmp_path / "out", figures=False, strict=True)
    table = written[0].table
    row = find_row(table, "c")  # not ranked in the pooled table, but a target may still name it
    assert row is not None and [f.result.path.stem for f in table.level_rows] == ["c"]
    verdict = judge(table, row, Goal(metric="psnr", bound=32.0))
    assert verdict.value == pytest.approx(float(np.mean(BASE)) + 2) and verdict.met is True  # 32.1667, its q10 mean
    assert judge(table, row, Goal(metric="psnr", bound=32.2)).met is False
    assert find_row(table, "nobody") is None


def test_rows_that_share_one_filter_stay_one_table(tmp_path):
    """The depixelate x4 tables score every row with --factor 4: nothing is mixed, nothing moves."""
    folder = tmp_path / "results"
    for stem, psnr in (("espcn", 27.5), ("bicubic", 26.0)):
        write_result(
            folder,
            stem,
            metrics={"psnr": psnr, "ssim": 0.8},
            degraded={"psnr": 24.0, "ssim": 0.7},
            breakdown={"factor": {"4": {"n": 24, "model_psnr": psnr, "degraded_psnr": 24.0}}},
            settings={"limit": None, "factor": 4},
        )
    written, warnings = build_leaderboards([folder], tmp_path / "out", figures=False)
    assert warnings == [] and [w.table.stem for w in written] == ["depixelate-nearest-v1-kodak"]
    assert [r.model.name for r in written[0].table.results] == ["espcn", "bicubic"]
    assert written[0].table.level_rows == []
    assert "Scored with `--factor 4`" in (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text("utf-8")


def write_factor_rows(folder: Path, factor: int, rows: dict[str, float], samples: int) -> None:
    """Rows scored with ``--factor F`` on one depixelate dataset (FP_A): their means over that factor's samples."""
    for stem, psnr in rows.items():
        write_result(
            folder,
            stem,
            metrics={"psnr": psnr, "ssim": 0.8},
            degraded={"psnr": 24.0, "ssim": 0.7},
            samples=samples,
            breakdown={"factor": {str(factor): {"n": samples, "model_psnr": psnr, "degraded_psnr": 24.0}}},
            settings={"limit": None, "factor": factor},
        )


def test_other_factors_of_one_dataset_are_sibling_tables_named_by_their_level(tmp_path):
    """x4 is the main table (most rows); x2 and x8 rows, each on their own factor, get a table each, no warning."""
    results = tmp_path / "results"
    write_factor_rows(results / "x4", 4, {"espcn": 27.5, "bicubic-x4": 26.0, "identity": 24.0}, samples=70)
    write_factor_rows(results / "x2", 2, {"bicubic-x2": 30.0, "identity": 28.0}, samples=67)
    write_factor_rows(results / "x8", 8, {"lanczos-x8": 22.5, "identity": 21.0}, samples=55)
    out = tmp_path / "out"
    written, warnings = build_leaderboards([results], out, figures=False, strict=True)
    assert warnings == []
    stems = {w.table.stem: w.table for w in written}
    assert sorted(stems) == [
        "depixelate-nearest-v1-kodak",
        "depixelate-nearest-v1-kodak-factor-2",
        "depixelate-nearest-v1-kodak-factor-8",
    ]
    assert [r.model.name for r in stems["depixelate-nearest-v1-kodak"].results] == ["espcn", "bicubic-x4", "identity"]
    assert [r.model.name for r in stems["depixelate-nearest-v1-kodak-factor-2"].results] == ["bicubic-x2", "identity"]
    assert stems["depixelate-nearest-v1-kodak-factor-8"].level == ("factor", "8")
    x2 = (out / "depixelate-nearest-v1-kodak-factor-2.md").read_text("utf-8")
    assert x2.startswith("# depixelate-nearest v1 on kodak, factor 2 (depixelate)\n")
    assert ", 67 samples." in x2 and "the [main table](<depixelate-nearest-v1-kodak.md>) scores `--factor 4`" in x2
    main = (out / "depixelate-nearest-v1-kodak.md").read_text("utf-8")
    assert main.startswith("# depixelate-nearest v1 on kodak (depixelate)\n")
    assert (
        "[factor 2](<depixelate-nearest-v1-kodak-factor-2.md>), [factor 8](<depixelate-nearest-v1-kodak-factor-8.md>)"
        in main
    )


def test_a_level_set_on_another_dataset_is_not_a_sibling(tmp_path):
    """Same filter column, another fingerprint: separate tables with a warning, as before (never mixed)."""
    results = tmp_path / "results"
    write_factor_rows(results / "x4", 4, {"espcn": 27.5, "identity": 24.0}, samples=70)
    write_factor_rows(results / "x2", 2, {"bicubic-x2": 30.0}, samples=67)
    doc = json.loads((results / "x2" / "bicubic-x2.json").read_text("utf-8"))
    doc["dataset"]["fingerprint"] = "sha256:" + "f" * 64
    (results / "x2" / "bicubic-x2.json").write_text(json.dumps(doc), encoding="utf-8")
    written, warnings = build_leaderboards([results], tmp_path / "out", figures=False)
    assert len(warnings) == 1 and "disagree on the evaluation set" in warnings[0]
    assert all(w.table.level is None for w in written) and len(written) == 2


def test_a_sibling_table_links_the_main_table_where_a_separated_set_renamed_it(tmp_path):
    """Beside a set scored on another dataset, the main table's stem carries its evaluation set; the sibling
    table's link to it follows (and names a page that is written)."""
    results = tmp_path / "results"
    write_factor_rows(results / "x4", 4, {"espcn": 27.5, "identity": 24.0}, samples=70)
    write_factor_rows(results / "x2", 2, {"bicubic-x2": 30.0}, samples=67)
    write_factor_rows(results / "other", 4, {"lanczos-x4": 26.5}, samples=70)
    doc = json.loads((results / "other" / "lanczos-x4.json").read_text("utf-8"))
    doc["dataset"]["fingerprint"] = "sha256:" + "f" * 64
    (results / "other" / "lanczos-x4.json").write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "out"
    written, warnings = build_leaderboards([results], out, figures=False)
    assert len(warnings) == 1  # the other dataset is separated; the factor-2 set is not
    main = next(w.table for w in written if [r.model.name for r in w.table.results] == ["espcn", "identity"])
    assert main.stem == "depixelate-nearest-v1-kodak-aaaaaaaa-test-n70-factor4"
    x2 = (out / "depixelate-nearest-v1-kodak-factor-2.md").read_text("utf-8")
    assert f"the [main table](<{main.stem}.md>) scores `--factor 4`" in x2 and (out / f"{main.stem}.md").is_file()


def test_a_filter_on_a_level_the_table_lacks_is_still_a_separate_table(jpeg_results, tmp_path):
    write_q10_row(jpeg_results, quality=30)  # the pooled rows hold q10 and q40 only
    written, warnings = build_leaderboards([jpeg_results], tmp_path / "out", figures=False)
    assert len(written) == 2 and "--quality 30" in warnings[0]
    assert all(w.table.level_rows == [] for w in written)


def test_levels_are_in_numeric_order_buckets_included():
    from pixbench.leaderboard.level_rows import level_sort_key

    # localize's size and block buckets (pixbench/tasks/localize.py), qualities, then named levels
    assert sorted([">256", "129-256", "<=64", "65-128"], key=level_sort_key) == ["<=64", "65-128", "129-256", ">256"]
    assert sorted([">=16", "8-15", "2-7"], key=level_sort_key) == ["2-7", "8-15", ">=16"]
    assert sorted(["jpeg", "100", "20", "clean", "10"], key=level_sort_key) == ["10", "20", "100", "clean", "jpeg"]
