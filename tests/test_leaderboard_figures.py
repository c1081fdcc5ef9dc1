"""Comparison figures (`pixbench.leaderboard.figures`): rows of photos, each crop labelled with its own PSNR,
magnified rows, names that wrap, captions that say what the rows are; and the whole path on a Kodak build."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.images import decode_image, read_png, write_png
from pixbench.leaderboard import build_leaderboards
from pixbench.leaderboard.figures import comparison_figure, wrap
from pixbench.leaderboard.group import group_results
from pixbench.results import collect_result_files, read_result
from tests.test_leaderboard import TILE, clean_tiles, depixelate_results, write_crops, write_result

#: The start of kodim01's pixel hash (pixbench.sources.kodak), which begins the ids of its samples.
KODIM01 = "6c7c9230bd197b15"


def naive_psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """``10 log10(255^2 / MSE)`` over all pixels and channels, written out (the textbook formula)."""
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def locate(figure: np.ndarray, patch: np.ndarray) -> tuple[int, int]:
    """The one place where ``patch`` appears in ``figure``, as ``(y, x)``."""
    h, w = patch.shape[:2]
    windows = np.lib.stride_tricks.sliding_window_view(figure, (1, w, 3))[:, :, 0, 0]
    ys, xs = np.nonzero((windows == patch[0]).all(axis=(2, 3)))
    found = [(y, x) for y, x in zip(ys, xs, strict=True) if np.array_equal(figure[y : y + h, x : x + w], patch)]
    assert len(found) == 1, f"the patch appears {len(found)} times"
    return found[0]


def tables(folder: Path):
    return group_results([read_result(p) for p in collect_result_files([folder])])[0]


def test_rows_are_crops_columns_are_degraded_models_in_rank_order_clean(tmp_path):
    depixelate_results(tmp_path / "results")  # unet (tiles ^ 2), espcn (tiles ^ 1), identity (tiles // 2)
    figure = comparison_figure(tables(tmp_path / "results")[0], zoom=3, max_bytes=None)
    image = decode_image(figure.png)
    tiles = clean_tiles()
    columns = [tiles // 2, tiles ^ 2, tiles ^ 1, tiles // 2, tiles]  # degraded, unet, espcn, identity, clean
    places = {}
    for c, column in enumerate(columns):
        for r in (0, 3):
            zoomed = np.repeat(np.repeat(column[r], 3, 0), 3, 1)  # every model gains > 3 dB: no row is magnified
            if c in (0, 3):  # degraded and identity hold the same pixels: the degraded column comes first
                continue
            places[c, r] = locate(image, zoomed)
    assert places[1, 0][1] < places[2, 0][1] < places[4, 0][1]  # left to right in table order
    assert places[1, 0][0] < places[1, 3][0] and places[1, 0][1] == places[1, 3][1]  # one row per crop
    for r in range(4):
        degraded = naive_psnr(tiles[r], tiles[r] // 2)
        unet, espcn = naive_psnr(tiles[r], tiles[r] ^ 2), naive_psnr(tiles[r], tiles[r] ^ 1)
        assert figure.labels[r] == [
            f"{degraded:.2f} dB",
            f"{unet:.2f} dB {unet - degraded:+.2f}",
            f"{espcn:.2f} dB {espcn - degraded:+.2f}",
            f"{degraded:.2f} dB +0.00",
            "clean",
        ]
    # the results record no photos and their sample ids name no photo: each crop is its own
    assert "one crop from each of 4 `test` photos: test0000, test0001, test0002, test0003." in figure.caption


def test_a_row_with_a_small_gain_shows_the_worst_part_of_its_crop_enlarged(tmp_path):
    rng = np.random.default_rng(1)
    clean = rng.integers(0, 256, (4, TILE, TILE, 3), dtype=np.uint8)
    degraded = clean.copy()
    degraded[0, 5:11, 7:13] = 255 - degraded[0, 5:11, 7:13]  # crop 0 is wrong only in this 6x6 part
    degraded[1:] //= 2
    model = degraded.copy()
    model[0, 5, 7] = clean[0, 5, 7]  # crop 0: one pixel of 36 put right, a gain well under 1 dB
    model[1:] = clean[1:] ^ 1  # the other crops: a large gain
    folder = tmp_path / "results"
    write_result(folder, "tiny-gain", metrics={"psnr": 30.0, "ssim": 0.9}, degraded={"psnr": 20.0})
    strip = np.concatenate([np.concatenate(list(t), axis=1) for t in (degraded, model, clean)], axis=0)
    write_png(folder / "tiny-gain.crops.png", strip)
    doc = json.loads((folder / "tiny-gain.json").read_text())
    doc["crops"] = {"file": "tiny-gain.crops.png", "size": TILE, "samples": [f"s{i}" for i in range(4)]}
    (folder / "tiny-gain.json").write_text(json.dumps(doc))
    figure = comparison_figure(tables(folder)[0], zoom=2, max_bytes=None)
    image = decode_image(figure.png)
    gain = naive_psnr(clean[0], model[0]) - naive_psnr(clean[0], degraded[0])
    assert 0 < gain < 1  # so the row is enlarged 3x: ceil(16 / 3) = 6 pixels of the crop, the 6x6 part
    enlarged = np.repeat(np.repeat(clean[0, 5:11, 7:13], 3, 0), 3, 1)[:TILE, :TILE]
    at = locate(image, np.repeat(np.repeat(enlarged, 2, 0), 2, 1))  # then the figure's own zoom of 2
    whole = np.repeat(np.repeat(clean[1], 2, 0), 2, 1)  # crop 1 gains > 3 dB: shown whole
    assert locate(image, whole)[0] > at[0]
    assert figure.labels[0][1] == f"{naive_psnr(clean[0], model[0]):.2f} dB {gain:+.2f}"
    assert "under 1 dB, 3x; under 3 dB, 2x" in figure.caption


def test_crops_of_other_samples_are_left_out_with_a_note(tmp_path):
    depixelate_results(tmp_path / "results")
    other = clean_tiles()[::-1].copy()
    write_result(tmp_path / "results", "stranger", metrics={"psnr": 30.0, "ssim": 0.9}, degraded={"psnr": 24.25})
    write_crops(tmp_path / "results" / "stranger.crops.png", other, clean=other)
    written, warnings = build_leaderboards([tmp_path / "results"], tmp_path / "out")
    assert any("stranger left out" in w for w in warnings)
    assert "stranger left out" in (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text()
    figure = comparison_figure(tables(tmp_path / "results")[0], zoom=2, max_bytes=None)
    assert [len(labels) for labels in figure.labels] == [5] * 4  # still degraded + 3 models + clean


def test_long_names_wrap_and_keep_every_letter():
    font = ImageFont.load_default(size=14)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    for name in ("grid-upscaler-hq-x4", "sepunet-depixelator", "averyveryverylongmodelnamewithoutbreaks"):
        lines = wrap(draw, name, font, 64)
        assert "".join(lines) == name and all(draw.textlength(line, font=font) <= 64 for line in lines)
    assert wrap(draw, "grid-upscaler-hq-x4", font, 64)[0] == "grid-"  # it breaks after a hyphen first


def test_results_without_photos_are_named_and_captioned_as_one_photo(tmp_path):
    """Strips written before crops came from several photos: 4 crops of kodim01, which the caption says."""
    depixelate_results(tmp_path / "results")
    samples = [f"{KODIM01}-{i:04d}" for i in range(4)]
    for path in (tmp_path / "results").glob("*.json"):
        doc = json.loads(path.read_text())
        if "crops" in doc:
            doc["crops"]["samples"] = samples
            path.write_text(json.dumps(doc))
    figure = comparison_figure(tables(tmp_path / "results")[0], zoom=1, max_bytes=None)
    assert f"4 crops of only 1 `test` photo (kodim01.png; samples {', '.join(samples)})" in figure.caption
    assert "re-evaluate them to show several photos" in figure.caption


def test_recorded_photos_name_the_rows_and_a_heavy_figure_keeps_two(tmp_path):
    depixelate_results(tmp_path / "results")
    photos = ["kodim05.png", "kodim09.png", "kodim13.png", "kodim21.png"]
    for path in (tmp_path / "results").glob("*.json"):
        doc = json.loads(path.read_text())
        if "crops" in doc:
            doc["crops"]["per_crop"] = [{"sample_id": s, "source": p} for s, p in zip(doc["crops"]["samples"], photos)]
            path.write_text(json.dumps(doc))
    table = tables(tmp_path / "results")[0]
    full = comparison_figure(table, zoom=2, max_bytes=None)
    assert "one crop from each of 4 `test` photos: kodim05.png (sample test0000), kodim09.png" in full.caption
    assert comparison_figure(table, zoom=2, max_bytes=None).png == full.png  # deterministic bytes
    small = comparison_figure(table, zoom=2, max_bytes=1000)  # far too small: two rows are kept all the same
    assert len(small.labels) == 2 and "(2 of the 4 crops, to keep the file under 1 kB)" in small.caption
    assert decode_image(small.png).shape[1] == decode_image(full.png).shape[1]


@pytest.mark.slow
@pytest.mark.shared
def test_a_kodak_build_gives_a_figure_of_several_photos(shared_datasets, tmp_path):
    """Three Kodak photos, the bicubic and identity baselines at x4: one crop per photo, each with its PSNR."""
    runner = CliRunner()

    def pixbench(*args) -> None:
        done = runner.invoke(app, [str(a) for a in args])
        assert done.exit_code == 0, done.output

    data, results = tmp_path / "ds", tmp_path / "results"
    kodak = f"kodak:{shared_datasets / 'kodak'}"
    pixbench("build-dataset", "depixelate-nearest", "-o", data, "--source", kodak, "--limit", 3, "--split", "test")
    pixbench("baseline", "bicubic", "-o", tmp_path / "bicubic-x4.onnx", "--scale", 4)
    pixbench("baseline", "identity", "-o", tmp_path / "identity.onnx", "--task", "depixelate")
    for model in ("bicubic-x4", "identity"):
        out = results / f"{model}.json"
        pixbench(
            "evaluate", tmp_path / f"{model}.onnx", "-d", data, "-o", out, "--factor", 4, "--no-speed", "--no-lpips"
        )
    with open(data / "test" / "metadata.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["factor"] == "4"]
    first = {}
    for row in rows:  # the first factor-4 sample of each photo, in sample order
        first.setdefault(row["source_id"], row["sample_id"])
    assert list(first) == ["kodim01.png", "kodim02.png", "kodim03.png"]
    crops = read_result(results / "bicubic-x4.json").crops
    assert [c["source"] for c in crops.per_crop] == list(first) and crops.samples == list(first.values())
    assert all(c["model_psnr"] > c["degraded_psnr"] for c in crops.per_crop)  # bicubic beats the mosaic on each
    pixbench("leaderboard", results, "-o", tmp_path / "out", "--figure-source", "kodak")
    page = (tmp_path / "out" / "depixelate-nearest-v1-kodak.md").read_text(encoding="utf-8")
    caption = next(line for line in page.splitlines() if line.startswith("Rows: crops"))
    listed = ", ".join(f"{photo} (sample {sample})" for photo, sample in first.items())
    assert f"one crop from each of 3 `test` photos: {listed}." in caption
    strip = read_png(results / "bicubic-x4.crops.png")
    figure = comparison_figure(tables(results)[0], zoom=1, max_bytes=None)
    for r, entry in enumerate(crops.per_crop):  # the labels are the recorded per-crop values, from the pixels
        clean, output = strip[256:384, r * 128 : (r + 1) * 128], strip[128:256, r * 128 : (r + 1) * 128]
        assert entry["model_psnr"] == pytest.approx(naive_psnr(clean, output), abs=1e-9)
        assert figure.labels[r][1].startswith(f"{entry['model_psnr']:.2f} dB +")
