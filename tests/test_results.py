"""The result document: one type that `pixbench evaluate` writes and every reader reads (docs/result-format.md)."""

from __future__ import annotations

import json

import pytest

from pixbench.results import (
    Metrics,
    Result,
    ResultFileError,
    collect_result_files,
    read_result,
    result_json,
    targets,
    write_result,
)
from tests.conftest import REPO_ROOT

COMMITTED = REPO_ROOT / "leaderboards" / "results"


def committed_results():
    return collect_result_files([COMMITTED])


def test_every_committed_result_file_writes_back_byte_for_byte(tmp_path):
    """Read through the type and written through it again, each published result keeps its bytes.

    The committed files were written by `pixbench evaluate` with the same JSON formatting
    (2-space indent, a final newline), so the comparison is of bytes, not of parsed JSON.
    """
    paths = committed_results()
    # 7 benchmarks x 2 sources (56 model rows), and the identity rows of the paper protocols:
    # jpeg-gray on Classic5 and LIVE1, sr-bicubic on Set5 and Set14, and the third-party rows (dncnn3 on both
    # protocols, vdsr on sr-bicubic); the detect rows on Set5 and LIVE1 (4 rows x 2), espcn-x3 on Set5 and
    # Set14, gray-deblocker-q10 on Classic5 and LIVE1, the localize rows on Kodak and Set14 (3 x 2), and the
    # detect-hard rows on Kodak and Set14 (4 x 2), and depixelation at x2 (5 rows) and x8 (4 rows), nearest and
    # lanczos, on Kodak and Set14; then the combined sepunet-grid-detector, on detect's four sources and
    # detect-hard's two
    assert len(paths) == 56 + 4 + 6 + 8 + 2 + 2 + 6 + 8 + (5 + 4) * 2 * 2 + 6
    for path in paths:
        result = read_result(path)
        write_result(tmp_path / "again.json", result)
        assert (tmp_path / "again.json").read_bytes() == path.read_bytes(), path


def test_a_result_reads_through_its_attributes_and_as_its_json_object():
    path = COMMITTED / "kodak" / "jpeg" / "blockcnn.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    result = read_result(path)
    assert result.path == path and result.task == "jpeg"
    assert result.model.name == doc["model"]["name"] == "blockcnn"
    assert result.model.size_mb == doc["model"]["size_mb"] == 1.204619
    assert result.dataset.recipe.name == "jpeg" and result.dataset.recipe.version == 1
    assert result.metrics.model["psnr"] == doc["metrics"]["model"]["psnr"] == 30.332126538217008
    # re-scored with the LPIPS backbone present: a number, so no note (the note is written only beside a null)
    assert result.metrics.model["lpips"] == doc["metrics"]["model"]["lpips"] == 0.18161016171664865
    assert result.metrics.lpips_note is None and "lpips_note" not in doc["metrics"]
    assert result.crops is not None and result.crops.samples == doc["crops"]["samples"]
    assert result.speed is not None and result.speed.fps_1080p == doc["speed"]["fps_1080p"]
    assert result.benchmark_key == ("jpeg", "jpeg", 1, "kodak")
    # retrained, re-scored and re-timed on 2026-12-07 on an AVX-512 host, whose identity the file records
    # (docs/result-format.md)
    tag = "Intel(R) Xeon(R) Processor (AVX-512 VNNI BF16), CPU, 2 threads"
    assert result.hardware == tag == f"{doc['environment']['cpu']} ({doc['environment']['isa']}), CPU, 2 threads"
    assert result.environment.isa == "AVX-512 VNNI BF16" and result.speed.other_cpu is not None
    # The same object reads as the JSON object of its file, for code that indexes results as dictionaries.
    assert dict(result) == doc and result["metrics"]["model"]["psnr"] == result.metrics.model["psnr"]
    assert result.speed["fps_1080p"] == doc["speed"]["fps_1080p"]


def test_lpips_note_is_written_exactly_where_lpips_is_null():
    note = "LPIPS needs the AlexNet weights"
    assert Metrics(model={"psnr": 30.0, "lpips": None}, degraded={}, lpips_note=note).as_dict()["lpips_note"] == note
    # no reason known (every sample failed, LPIPS itself available): the key is still there, as evaluate writes it
    written = Metrics(model={"lpips": None}, degraded={}).as_dict()
    assert written == {"model": {"lpips": None}, "degraded": {}, "lpips_note": None}
    assert "lpips_note" not in Metrics(model={"psnr": 30.0, "lpips": 0.2}, degraded={}).as_dict()
    assert list(Metrics(model={"accuracy": 0.9}, crops_per_image=[32]).as_dict()) == ["model", "crops_per_image"]


def test_targets_list_accuracy_only_for_detectors():
    assert targets("detect", 0.95, 2.0, None) == {"accuracy>=0.90": True, "size<=10MB": True, "fps_1080p>=30": None}
    assert targets("jpeg", None, 12.0, 31.0) == {"size<=10MB": False, "fps_1080p>=30": True}


def damaged(tmp_path, change) -> object:
    doc = json.loads((COMMITTED / "kodak" / "jpeg" / "identity.json").read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["model"].pop("sha256"), "lacks 'model.sha256'"),
        (lambda d: d["dataset"]["recipe"].update(version=None), "lacks 'dataset.recipe.version'"),
        (lambda d: d["model"].update(name=7), "model.name must be a str"),
        (lambda d: d["dataset"]["recipe"].update(version="one"), "dataset.recipe.version must be an integer"),
        (lambda d: d.update(speed=[40.0]), "speed is not a JSON object"),
        (lambda d: d.update(task="denoise"), "unknown task 'denoise'"),
    ],
)
def test_bad_result_files_are_refused_naming_the_key(tmp_path, change, message):
    with pytest.raises(ResultFileError, match=message):
        read_result(damaged(tmp_path, change))


def test_keys_this_version_does_not_know_are_passed_over(tmp_path):
    path = damaged(tmp_path, lambda d: d.update(notes={"lpips": "elsewhere"}))
    result = read_result(path)
    assert isinstance(result, Result) and "notes" not in result
    assert result_json(result) == (COMMITTED / "kodak" / "jpeg" / "identity.json").read_bytes()
