"""The dataset reader validates folders at the door and returns arrays."""

import json

import pytest

from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError
from tests.synth import write_tiny_dataset


@pytest.mark.parametrize("task", ["detect", "depixelate", "jpeg", "inpaint", "blockcnn"])
def test_tiny_dataset_reads_back(tmp_path, task):
    ds = open_dataset(write_tiny_dataset(tmp_path / task, task, n=2, size=32))
    assert ds.task == task
    assert ds.splits == ["train", "val", "test"]
    sample = ds.split("test")[1]
    assert sample.input.shape == (32, 32, 3)
    if task == "detect":
        assert sample.label == 1 and sample.target is None
    else:
        assert sample.target.shape == (32, 32, 3)
    if task == "depixelate":
        assert sample.lowres.shape == (8, 8, 3)
    if task == "inpaint":
        assert sample.mask.dtype == bool and sample.mask.sum() == 16 * 16
    if task == "blockcnn":
        x, y = ds.split("train").triplets()
        assert x.shape == (8, 24, 24, 3) and y.shape == (8, 8, 8, 3)


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset folder"):
        open_dataset(tmp_path / "nope")


def test_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not a pixbench dataset"):
        open_dataset(tmp_path)


def test_half_built(tmp_path):
    (tmp_path / ".pixbench-build").mkdir()
    with pytest.raises(DatasetError, match="half-built"):
        open_dataset(tmp_path)


def test_wrong_format_version(tmp_path):
    root = write_tiny_dataset(tmp_path / "d", "jpeg", n=1, size=16)
    info = json.loads((root / "dataset.json").read_text())
    info["format_version"] = 99
    (root / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="format version 99"):
        open_dataset(root)


def test_unknown_split(tmp_path):
    ds = open_dataset(write_tiny_dataset(tmp_path / "d", "jpeg", n=1, size=16, splits=("test",)))
    with pytest.raises(DatasetError, match="no split 'train'"):
        ds.split("train")
