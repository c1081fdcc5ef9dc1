"""Hostile input, integrity and nothing-lost classes: a dataset cannot be swapped under its fingerprint,
a malformed one is one line (never a traceback), and ``--overwrite`` deletes only what pixbench wrote.

Every input is generated here: tiny photos, a tiny recipe, a real build, then hand edits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixbench.baselines import write_baseline
from pixbench.builder import build_dataset
from pixbench.cli import app
from pixbench.datasets import MANIFEST_KEY, fingerprint_of, open_dataset, split_file_hashes
from pixbench.errors import DatasetError
from pixbench.evaluate import EvaluateOptions, evaluate
from tests.conftest import REPO_ROOT
from tests.test_build import tiny_recipe, write_photos

QUICK = EvaluateOptions(speed=False, lpips=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One real jpeg build (every image in ``test``) and an identity model; tests copy the folder."""
    base = tmp_path_factory.mktemp("hostile")
    src = write_photos(base / "src", 3)
    info = build_dataset(tiny_recipe("jpeg"), base / "ds", source=f"folder:{src}", split="test", workers=1).info
    model = write_baseline("identity", base / "identity.onnx", task="jpeg")
    return base / "ds", model, info


def fresh(built, tmp_path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(built[0], root)
    return root


def info_of(root: Path) -> dict:
    return json.loads((root / "dataset.json").read_text(encoding="utf-8"))


def write_info(root: Path, info) -> None:
    (root / "dataset.json").write_text(json.dumps(info), encoding="utf-8")


def reseal(root: Path) -> None:
    """What a forger does: record the edited files and the fingerprint that follows from them."""
    info = info_of(root)
    files = split_file_hashes(root)
    info.update(
        {
            MANIFEST_KEY: files,
            "fingerprint": fingerprint_of(files, info["recipe"]["sha256"], split=info["build"]["split"]),
        }
    )
    write_info(root, info)


def first_input(root: Path) -> Path:
    return sorted((root / "test" / "input").glob("*.png"))[0]


def cli_evaluate(model, root, out):
    return CliRunner().invoke(
        app, ["evaluate", str(model), "-d", str(root), "-o", str(out), "--no-speed", "--no-lpips"]
    )


# ---- integrity: what evaluate scores is what the fingerprint names ----------------------------------------------


def test_untouched_dataset_is_scored_under_its_fingerprint(built, tmp_path):
    root, model, info = built
    assert set(info[MANIFEST_KEY]) == set(split_file_hashes(root))  # the manifest lists every split file
    doc = evaluate(model, root, tmp_path / "r.json", QUICK)
    assert doc["dataset"]["fingerprint"] == info["fingerprint"] and doc["failures"]["count"] == 0


def test_black_image_of_same_size_is_refused_naming_it(built, tmp_path):
    root = fresh(built, tmp_path)
    victim = first_input(root)
    shape = np.asarray(Image.open(victim)).shape
    Image.fromarray(np.zeros(shape, np.uint8)).save(victim)  # before: scored silently, PSNR 28.2 -> 21.3
    with pytest.raises(DatasetError, match=rf"{victim.name}: contents differ from the dataset's manifest .*rebuild it"):
        evaluate(built[1], root, tmp_path / "r.json", QUICK)
    assert not (tmp_path / "r.json").exists()


def test_edited_fingerprint_is_refused(built, tmp_path):
    root = fresh(built, tmp_path)
    info = info_of(root)
    info["fingerprint"] = "sha256:" + "ab" * 32  # before: scored and published as this fake fingerprint
    write_info(root, info)
    result = cli_evaluate(built[1], root, tmp_path / "r.json")
    assert result.exit_code == 1 and "does not follow from the file list" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r.json").exists()


def test_forged_manifest_publishes_the_forgery_not_the_original(built, tmp_path):
    root = fresh(built, tmp_path)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(first_input(root))
    reseal(root)  # hashes and fingerprint recomputed: a different dataset, honestly labelled
    doc = evaluate(built[1], root, tmp_path / "r.json", QUICK)
    assert doc["dataset"]["fingerprint"] == info_of(root)["fingerprint"] != built[2]["fingerprint"]


@pytest.mark.parametrize("edit", ["delete file", "delete split", "truncate metadata"])
def test_missing_or_changed_files_are_refused_before_scoring(built, tmp_path, edit):
    root = fresh(built, tmp_path)
    if edit == "delete file":
        victim = sorted((root / "test" / "target").glob("*.png"))[-1]
        victim.unlink()
        expected = rf"{victim.name}: missing \(listed in the dataset's manifest\)"
    elif edit == "delete split":
        shutil.rmtree(root / "test")
        expected = r"test: split folder missing"
    else:
        (root / "test" / "metadata.csv").write_text("sample_id\n")
        expected = r"metadata.csv: contents differ"
    result = cli_evaluate(built[1], root, tmp_path / "r.json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    import re

    assert re.search(expected, " ".join(result.output.split())), result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"sample_id,seed\nx,1\n", "missing column 'input_file_name'"),
        (b"\xff\xfe\x00garbage\x00\x00\n\x01", "metadata.csv: "),
        (b"", "metadata.csv: unreadable"),
    ],
)
def test_unparseable_metadata_is_one_line(built, tmp_path, content, expected):
    root = fresh(built, tmp_path)
    (root / "test" / "metadata.csv").write_bytes(content)
    reseal(root)  # the hashes match, so the parser itself must fail cleanly
    with pytest.raises(DatasetError, match=expected):
        split = open_dataset(root).split("test")
        split[0]


def test_png_that_does_not_decode_is_one_line(built, tmp_path):
    root = fresh(built, tmp_path)
    first_input(root).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    reseal(root)
    with pytest.raises(DatasetError, match="cannot decode image"):
        evaluate(built[1], root, tmp_path / "r.json", QUICK)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda i: "{not json", "unreadable dataset.json"),
        (lambda i: [1, 2], "not a pixbench dataset"),
        (lambda i: {k: v for k, v in i.items() if k != "recipe"}, "key 'recipe' must be"),
        (lambda i: {**i, "recipe": {**i["recipe"], "version": "one"}}, "key 'recipe' must be"),
        (lambda i: {**i, "fingerprint": 12}, "key 'fingerprint' must be"),
        (lambda i: {**i, "build": {"split": "holdout"}}, "key 'build' must be"),
        (lambda i: {**i, MANIFEST_KEY: ["test/metadata.csv"]}, "must map file paths"),
        (lambda i: {**i, MANIFEST_KEY: {**i[MANIFEST_KEY], "test/../../etc/passwd": "0" * 64}}, "manifest entry"),
        (lambda i: {**i, MANIFEST_KEY: {**i[MANIFEST_KEY], "test/x.png": "nothex"}}, "manifest entry"),
    ],
)
def test_malformed_dataset_json_is_one_line(built, tmp_path, edit, expected):
    root = fresh(built, tmp_path)
    new = edit(info_of(root))
    (root / "dataset.json").write_text(new if isinstance(new, str) else json.dumps(new), encoding="utf-8")
    result = cli_evaluate(built[1], root, tmp_path / "r.json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert expected in " ".join(result.output.split()), result.output


def test_dataset_without_a_file_list_is_verified_from_its_files(built, tmp_path):
    """Built by an older pixbench: the fingerprint is recomputed from the files in one pass before scoring."""
    root = fresh(built, tmp_path)
    info = info_of(root)
    del info[MANIFEST_KEY]
    write_info(root, info)
    doc = evaluate(built[1], root, tmp_path / "r.json", QUICK)
    assert doc["dataset"]["fingerprint"] == built[2]["fingerprint"]
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(first_input(root))
    with pytest.raises(DatasetError, match="do not match the fingerprint in dataset.json .*rebuild it"):
        open_dataset(root)


def test_metadata_pointing_outside_the_manifest_is_refused(built, tmp_path):
    root = fresh(built, tmp_path)
    (root / "secret.png").write_bytes(first_input(root).read_bytes())
    meta = (root / "test" / "metadata.csv").read_text()
    lines = meta.splitlines()
    rel = lines[1].split(",")[1]
    (root / "test" / "metadata.csv").write_text(meta.replace(rel, "../secret.png", 1))
    reseal(root)
    with pytest.raises(DatasetError, match=r"secret.png: not listed in the dataset's manifest"):
        open_dataset(root).split("test")[0]


# ---- nothing lost: --overwrite deletes only what pixbench wrote ---------------------------------------------------


def foreign_dataset(folder: Path) -> Path:
    """Another tool's dataset: its own dataset.json and data."""
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "cat.png").write_bytes(b"precious pixels")
    (folder / "dataset.json").write_text(json.dumps({"name": "my-own", "images": ["images/cat.png"]}))
    return folder


def test_overwrite_refuses_another_tools_dataset(tmp_path):
    src = write_photos(tmp_path / "src", 2)
    mine = foreign_dataset(tmp_path / "mine")
    result = CliRunner().invoke(
        app, ["build-dataset", "jpeg", "-o", str(mine), "--source", f"folder:{src}", "--overwrite", "--workers", "1"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output  # before: the whole folder was deleted
    assert "not a pixbench dataset" in " ".join(result.output.split())
    assert (mine / "images" / "cat.png").read_bytes() == b"precious pixels"
    assert sorted(p.name for p in mine.iterdir()) == ["dataset.json", "images"]


def test_overwrite_keeps_user_files_beside_the_dataset(built, tmp_path):
    root = fresh(built, tmp_path)
    (root / "notes.txt").write_text("mine")
    (root / "extra").mkdir()
    (root / "extra" / "plot.png").write_bytes(b"mine too")
    src = write_photos(tmp_path / "src", 2)
    build_dataset(tiny_recipe("inpaint"), root, source=f"folder:{src}", workers=1, overwrite=True)
    assert open_dataset(root).task == "inpaint"
    assert (root / "notes.txt").read_text() == "mine" and (root / "extra" / "plot.png").read_bytes() == b"mine too"


@pytest.mark.parametrize("where", ["test/input/mine.png", "test/notes.txt", "README.md"])
def test_overwrite_refuses_when_a_user_file_is_in_the_way(built, tmp_path, where):
    root = fresh(built, tmp_path)
    (root / where).write_bytes(b"user data")
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    src = write_photos(tmp_path / "src", 2)
    with pytest.raises(DatasetError, match=rf"{Path(where).name}.*(not written by pixbench|not the README.md)"):
        build_dataset(tiny_recipe("inpaint"), root, source=f"folder:{src}", workers=1, overwrite=True)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before  # nothing deleted
    assert (root / where).read_bytes() == b"user data"


def test_overwrite_never_follows_a_manifest_outside_the_folder(built, tmp_path):
    root = fresh(built, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    info = info_of(root)
    info[MANIFEST_KEY]["test/../../victim.txt"] = "0" * 64
    write_info(root, info)
    src = write_photos(tmp_path / "src", 2)
    with pytest.raises(DatasetError, match="outside its split folders"):
        build_dataset(tiny_recipe("inpaint"), root, source=f"folder:{src}", workers=1, overwrite=True)
    assert victim.read_text() == "keep" and (root / "dataset.json").is_file()


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from pixbench.builder.output import build_lock
with build_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_build_into_the_same_folder_is_refused_then_allowed_after_a_kill(tmp_path):
    out = tmp_path / "out"
    src = write_photos(tmp_path / "src", 2)
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(out)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(
            app, ["build-dataset", "jpeg", "-o", str(out), "--source", f"folder:{src}", "--workers", "1"]
        )
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert (
            f"is being built by another pixbench process (pid {proc.pid}); wait for it or choose another -o"
            in " ".join(result.output.split())
        )
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the kernel drops the lock with the process
        proc.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            built = build_dataset(tiny_recipe("jpeg"), out, source=f"folder:{src}", workers=1)
            break
        except DatasetError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert built.processed == 2 and not (out / ".pixbench-build").exists()
    assert open_dataset(out).fingerprint == built.info["fingerprint"]
