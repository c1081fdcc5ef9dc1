"""``build-dataset --split``: every source image in one split, recorded, recognised, fingerprinted, resumable."""

import hashlib
import json

import pytest
from typer.testing import CliRunner

from pixbench.builder import build_dataset, dataset_fingerprint
from pixbench.cli import app
from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError
from pixbench.images import file_sha256
from tests.test_build import tiny_recipe, tree, write_photos


class _Interrupt(Exception):
    """Stands in for Ctrl-C part-way through a build."""


class _StopAfter:
    """A progress callback that interrupts the build after ``n`` finished images."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, phase, done, total, /, **values):
        if done >= self.n:
            raise _Interrupt


def test_forced_split_holds_every_image_and_the_same_sample_bytes(tmp_path):
    src = write_photos(tmp_path / "src", 6)
    recipe = tiny_recipe("depixelate")
    spread = build_dataset(recipe, tmp_path / "spread", source=f"folder:{src}", workers=1).info
    assert len(spread["splits"]) > 1, "the fractions spread these 6 photos over several splits"
    one = build_dataset(recipe, tmp_path / "w1", source=f"folder:{src}", split="test", workers=1).info
    two = build_dataset(recipe, tmp_path / "w2", source=f"folder:{src}", split="test", workers=2).info
    assert one["splits"] == {"test": {"samples": 12, "source_images": 6}}  # 6 photos x per_image 2
    assert one["build"]["split"] == "test" and spread["build"]["split"] is None
    assert tree(tmp_path / "w1") == tree(tmp_path / "w2") and one["fingerprint"] == two["fingerprint"]
    assert one["fingerprint"] != spread["fingerprint"]
    # a sample depends on the photo and the recipe only: the same bytes, just under test/
    moved = {k.split("/", 1)[1]: v for k, v in tree(tmp_path / "spread").items() if k.endswith(".png")}
    assert moved == {k.split("/", 1)[1]: v for k, v in tree(tmp_path / "w1").items() if k.endswith(".png")}
    card = (tmp_path / "w1" / "README.md").read_text()
    assert "--split test" in card and "Every source image is in split `test`" in card
    assert open_dataset(tmp_path / "w1").splits == ["test"]


def test_fingerprint_hashes_the_forced_split(tmp_path):
    src = write_photos(tmp_path / "src", 2)
    recipe = tiny_recipe("jpeg")
    info = build_dataset(recipe, tmp_path / "out", source=f"folder:{src}", split="val", workers=1).info
    root = tmp_path / "out"
    # the documented formula, spelled out: recipe line, split line, then "<path> <sha256>" per file, sorted
    lines = [f"recipe {recipe.sha256()}", "split val"]
    lines += sorted(
        f"{p.relative_to(root).as_posix()} {file_sha256(p)}" for p in (root / "val").rglob("*") if p.is_file()
    )
    assert info["fingerprint"] == "sha256:" + hashlib.sha256("".join(f"{x}\n" for x in lines).encode()).hexdigest()
    # without a forced split the line is absent, so builds by fractions keep their old fingerprints
    assert dataset_fingerprint(root, recipe.sha256()) != info["fingerprint"]


def test_forced_split_takes_part_in_same_build_recognition(tmp_path):
    src = write_photos(tmp_path / "src", 3)
    recipe = tiny_recipe("jpeg")
    out = tmp_path / "out"
    build_dataset(recipe, out, source=f"folder:{src}", split="test", workers=1)
    assert build_dataset(recipe, out, source=f"folder:{src}", split="test", workers=1).up_to_date
    with pytest.raises(DatasetError, match="different dataset .*split test.*pass --overwrite"):
        build_dataset(recipe, out, source=f"folder:{src}", workers=1)
    with pytest.raises(DatasetError, match="different dataset"):
        build_dataset(recipe, out, source=f"folder:{src}", split="train", workers=1)
    replaced = build_dataset(recipe, out, source=f"folder:{src}", split="train", workers=1, overwrite=True)
    assert set(replaced.info["splits"]) == {"train"}


def test_datasets_built_before_the_option_are_still_recognised(tmp_path):
    src = write_photos(tmp_path / "src", 2)
    recipe = tiny_recipe("jpeg")
    out = tmp_path / "out"
    build_dataset(recipe, out, source=f"folder:{src}", workers=1)
    info = json.loads((out / "dataset.json").read_text())
    del info["build"]["split"]  # the build block as pixbench wrote it before --split existed
    (out / "dataset.json").write_text(json.dumps(info))
    assert build_dataset(recipe, out, source=f"folder:{src}", workers=1).up_to_date
    with pytest.raises(DatasetError, match="split by fractions"):
        build_dataset(recipe, out, source=f"folder:{src}", split="test", workers=1)


def test_interrupted_forced_split_build_resumes_to_the_same_bytes(tmp_path):
    src = write_photos(tmp_path / "src", 6)
    recipe = tiny_recipe("blockcnn")
    out = tmp_path / "out"
    with pytest.raises(_Interrupt):
        build_dataset(recipe, out, source=f"folder:{src}", split="test", workers=1, progress=_StopAfter(3))
    assert not (out / "dataset.json").exists() and (out / ".pixbench-build").is_dir()
    with pytest.raises(DatasetError, match="different dataset .*split test"):
        build_dataset(recipe, out, source=f"folder:{src}", workers=1)  # the half-built folder knows its split
    resumed = build_dataset(recipe, out, source=f"folder:{src}", split="test", workers=2)
    assert resumed.reused == 3 and resumed.processed == 3
    fresh = build_dataset(recipe, tmp_path / "fresh", source=f"folder:{src}", split="test", workers=1)
    assert tree(out) == tree(tmp_path / "fresh") and fresh.processed == 6
    assert resumed.info["triplets"] == {"test": 6 * 2 * 3}  # 6 photos x 2 crops x 3 triplets per crop


def test_cli_split_option(tmp_path):
    src = write_photos(tmp_path / "src", 3)
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(tiny_recipe("inpaint").canonical_yaml())
    runner = CliRunner()
    bad = runner.invoke(
        app,
        [
            "build-dataset",
            str(recipe_file),
            "-o",
            str(tmp_path / "bad"),
            "--source",
            f"folder:{src}",
            "--split",
            "nope",
        ],
    )
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert bad.output.strip() == "error: --split: expected one of train, val, test, got 'nope'"
    assert not (tmp_path / "bad").exists()
    good = runner.invoke(
        app,
        [
            "build-dataset",
            str(recipe_file),
            "-o",
            str(tmp_path / "ok"),
            "--source",
            f"folder:{src}",
            "--split",
            "val",
            "--workers",
            "1",
        ],
    )
    assert good.exit_code == 0, good.output
    assert "val: 6 samples from 3 images" in good.output  # 3 photos x per_image 2


def test_all_kodak_images_land_in_test(tmp_path, shared_datasets):
    kodak = shared_datasets / "kodak"
    if not kodak.is_dir():
        pytest.skip("../shared/datasets/kodak is not present")
    recipe = tiny_recipe("jpeg", crop={"size": 32, "per_image": 1, "align": 16})
    info = build_dataset(recipe, tmp_path / "kodak", source=f"kodak:{kodak}", split="test", workers=2).info
    assert info["skipped"] == []
    assert info["splits"] == {"test": {"samples": 24, "source_images": 24}}  # the 24-image Kodak suite
