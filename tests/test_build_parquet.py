"""``build-dataset --format parquet``: one manifest and fingerprint with imagefolder, the same samples, every reader.

A Parquet build of a recipe and source must list exactly the files an imagefolder build of them
lists (so the fingerprints are equal), read back through ``open_dataset`` to the same arrays and
metadata, load with Hugging Face ``datasets``, and be scored, compared, tabled and trained on like
the imagefolder build. Its shards are the same bytes for any worker count and after an interrupted
build, and every read is verified against the manifest.
"""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixbench.builder import build_dataset
from pixbench.cli import app
from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError
from tests.test_build import TINY, tiny_recipe, tree, write_photos

SAMPLE_FIELDS = ("input", "target", "lowres", "mask", "label")


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    return write_photos(tmp_path_factory.mktemp("parquet") / "src", 6)


def noise(folder: Path, n: int, side: int) -> Path:
    """``n`` photos of uniform noise: PNG cannot shrink them, so the shard sizes are predictable."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = np.random.default_rng(i).integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"n{i:03d}.png")
    return folder


def same_samples(a: Path, b: Path) -> None:
    """Both datasets read back to the same metadata and arrays, split by split and sample by sample."""
    da, db = open_dataset(a), open_dataset(b)
    assert da.splits == db.splits and da.fingerprint == db.fingerprint
    for name in da.splits:
        sa, sb = da.split(name), db.split(name)
        assert sa.metadata.equals(sb.metadata)
        for x, y in zip(sa, sb, strict=True):
            assert x.sample_id == y.sample_id and x.meta == y.meta
            for f in SAMPLE_FIELDS:
                u, v = getattr(x, f), getattr(y, f)
                assert (u is None and v is None) or np.array_equal(u, v), (name, x.sample_id, f)


@pytest.mark.parametrize("task", list(TINY))
def test_a_parquet_build_lists_the_imagefolder_files_and_reads_back_the_same(tmp_path, src, task):
    recipe = tiny_recipe(task)
    folder = build_dataset(recipe, tmp_path / "folder", source=f"folder:{src}", workers=1)
    shards = build_dataset(recipe, tmp_path / "parquet", source=f"folder:{src}", workers=1, layout="parquet")
    assert shards.info["fingerprint"] == folder.info["fingerprint"]
    assert shards.info["files"] == folder.info["files"]  # the same per-file records, so the same fingerprint
    assert shards.info["splits"] == folder.info["splits"]
    assert shards.info["format_version"] == 2 and shards.info["layout"] == "parquet"
    assert "layout" not in folder.info and folder.info["format_version"] == 1
    on_disk = {p for p in tree(tmp_path / "parquet") if p.split("/")[0] in ("train", "val", "test")}
    beside = {rel for rel in folder.info["files"] if rel.rsplit("/", 1)[1].startswith("triplets")}
    assert on_disk == set(shards.info["shards"]) | beside  # no PNG and no metadata.csv on disk
    same_samples(tmp_path / "folder", tmp_path / "parquet")
    if task == "blockcnn":
        a, b = open_dataset(tmp_path / "folder").split("train"), open_dataset(tmp_path / "parquet").split("train")
        assert all(np.array_equal(x, y) for x, y in zip(a.triplets(), b.triplets(), strict=True))
        assert np.array_equal(a.triplet_contexts(), b.triplet_contexts())
    card = (tmp_path / "parquet" / "README.md").read_text()
    assert "--format parquet" in card and "load_dataset('parquet', data_files=" in card


def test_shards_are_cut_by_size_and_the_same_bytes_for_any_worker_count(tmp_path):
    src = noise(tmp_path / "src", 12, 100)
    recipe = tiny_recipe("jpeg", crop={"size": 96, "per_image": 3, "align": 8})
    build_dataset(recipe, tmp_path / "folder", source=f"folder:{src}", workers=1, split="test")
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        runs[workers] = build_dataset(
            recipe, out, source=f"folder:{src}", workers=workers, split="test", layout="parquet", shard_mb=1
        ).info
    assert tree(tmp_path / "w1") == tree(tmp_path / "w2")
    # the cut, worked out from the imagefolder build's files: a shard takes rows in order while its
    # image bytes stay within 1 MB (36 rows of two noise PNGs of 96x96, about 55 kB a row: 2 MB in all)
    meta = open_dataset(tmp_path / "folder").split("test").metadata
    expected, total = [0], 0
    for a, b in zip(meta["input_file_name"], meta["target_file_name"], strict=True):
        size = sum((tmp_path / "folder" / "test" / f).stat().st_size for f in (a, b))
        if expected[-1] and total + size > 1_000_000:
            expected, total = [*expected, 0], 0
        expected[-1], total = expected[-1] + 1, total + size
    shards = runs[1]["shards"]
    assert len(expected) >= 2 and sum(expected) == 36
    assert sorted(shards) == [f"test/test-{i:05d}-of-{len(expected):05d}.parquet" for i in range(len(expected))]
    assert [shards[k]["rows"] for k in sorted(shards)] == expected
    for rel, entry in shards.items():  # the table records each shard file as it is on disk
        data = (tmp_path / "w1" / rel).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    same_samples(tmp_path / "folder", tmp_path / "w1")  # reads across the shard boundaries


def test_row_groups_hold_at_most_100_rows_and_random_reads_find_every_row(tmp_path):
    src = write_photos(tmp_path / "src", 30)
    recipe = tiny_recipe("jpeg", crop={"size": 32, "per_image": 4, "align": 16})
    build_dataset(recipe, tmp_path / "folder", source=f"folder:{src}", workers=2, split="test")
    info = build_dataset(
        recipe, tmp_path / "parquet", source=f"folder:{src}", workers=2, split="test", layout="parquet"
    ).info
    (rel,) = info["shards"]
    meta = pq.ParquetFile(tmp_path / "parquet" / rel).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [100, 20]
    a, b = open_dataset(tmp_path / "folder").split("test"), open_dataset(tmp_path / "parquet").split("test")
    for i in np.random.default_rng(0).permutation(len(a)):  # out of order, across the two row groups
        assert np.array_equal(a[int(i)].input, b[int(i)].input) and np.array_equal(a[int(i)].target, b[int(i)].target)


class Stop(Exception):
    pass


def test_an_interrupted_parquet_build_resumes_to_the_same_bytes(tmp_path, src, monkeypatch):
    recipe = tiny_recipe("blockcnn")
    whole = build_dataset(recipe, tmp_path / "whole", source=f"folder:{src}", workers=1, layout="parquet")

    def stop_at_three(phase, done, total, **values):
        if done >= 3:
            raise Stop

    out = tmp_path / "out"
    with pytest.raises(Stop):
        build_dataset(recipe, out, source=f"folder:{src}", workers=1, layout="parquet", progress=stop_at_three)
    assert not (out / "dataset.json").exists()
    # then a crash while the shards are written: the half-written shard must not survive
    real, calls = pq.ParquetWriter.write_table, []

    def fail_second(self, table, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", fail_second)
    with pytest.raises(OSError, match="No space left"):
        build_dataset(recipe, out, source=f"folder:{src}", workers=1, layout="parquet")
    assert not list(out.rglob("*.tmp"))
    monkeypatch.undo()
    resumed = build_dataset(recipe, out, source=f"folder:{src}", workers=1, layout="parquet")
    assert resumed.reused == 6 and resumed.processed == 0
    assert resumed.info["fingerprint"] == whole.info["fingerprint"]
    assert tree(out) == tree(tmp_path / "whole")


def test_hugging_face_datasets_loads_the_shards_as_images(tmp_path, src):
    datasets = pytest.importorskip("datasets")
    recipe = tiny_recipe("depixelate")
    info = build_dataset(recipe, tmp_path / "out", source=f"folder:{src}", workers=1, layout="parquet").info
    files = {s: str(tmp_path / "out" / s / "*.parquet") for s in info["splits"]}
    hf = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf-cache"))
    features = hf["test"].features
    assert type(features["input"]).__name__ == "Image" and type(features["lowres"]).__name__ == "Image"
    assert features["factor"].dtype == "int64" and features["params"].dtype == "string"
    ours = open_dataset(tmp_path / "out").split("test")
    assert hf["test"].num_rows == len(ours)
    for i, sample in enumerate(ours):
        row = hf["test"][i]
        assert row["sample_id"] == sample.sample_id and row["factor"] == int(sample.meta["factor"])
        assert np.array_equal(np.asarray(row["input"]), sample.input)
        assert np.array_equal(np.asarray(row["target"]), sample.target)
        assert np.array_equal(np.asarray(row["lowres"]), sample.lowres)
        assert json.loads(row["params"]) == json.loads(sample.meta["params"])


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_evaluate_compare_and_leaderboard_read_either_layout(tmp_path, src):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(tiny_recipe("depixelate").canonical_yaml())
    for layout in ("imagefolder", "parquet"):
        built = invoke(
            "build-dataset",
            recipe,
            "-o",
            tmp_path / layout / "data",
            "--source",
            f"folder:{src}",
            "--workers",
            "1",
            "--format",
            layout,
        )
        assert built.exit_code == 0, built.output
    assert invoke("baseline", "identity", "--task", "depixelate", "-o", tmp_path / "identity.onnx").exit_code == 0
    assert invoke("baseline", "bicubic", "--scale", "2", "-o", tmp_path / "bicubic.onnx").exit_code == 0
    docs = {}
    for layout, model in (("imagefolder", "identity"), ("parquet", "identity"), ("parquet", "bicubic")):
        out = tmp_path / "results" / f"{model}-{layout}.json"
        scored = invoke(
            "evaluate",
            tmp_path / f"{model}.onnx",
            "-d",
            tmp_path / layout / "data",
            "--factor",
            "2",
            "--no-speed",
            "--no-lpips",
            "-o",
            out,
        )
        assert scored.exit_code == 0, scored.output
        docs[(model, layout)] = json.loads(out.read_text())
    a, b = docs[("identity", "imagefolder")], docs[("identity", "parquet")]
    assert a["dataset"]["fingerprint"] == b["dataset"]["fingerprint"]
    assert a["metrics"] == b["metrics"] and a["breakdown"] == b["breakdown"]
    results = tmp_path / "results"
    compared = invoke("compare", results / "identity-imagefolder.json", results / "bicubic-parquet.json")
    assert compared.exit_code == 0 and "psnr" in compared.output, compared.output
    tables = invoke(
        "leaderboard",
        results / "identity-imagefolder.json",
        results / "bicubic-parquet.json",
        "-o",
        tmp_path / "tables",
    )
    assert tables.exit_code == 0, tables.output
    (table,) = [p for p in (tmp_path / "tables").glob("*.md") if p.name != "index.md"]
    assert "identity" in table.read_text() and "bicubic" in table.read_text()


def test_training_on_either_layout_gives_the_same_weights(tmp_path, src):
    torch = pytest.importorskip("torch")
    from pixbench.models import MODELS
    from pixbench.train import TrainSettings, train_model
    from pixbench.train.checkpoint import read_checkpoint

    recipe = tiny_recipe("jpeg")
    weights = {}
    for layout in ("imagefolder", "parquet"):
        build_dataset(recipe, tmp_path / layout, source=f"folder:{src}", workers=1, layout=layout)
        settings = TrainSettings(epochs=1, batch_size=2, crop=16, seed=3)
        args = dict(MODELS.get("sepunet-restorer").tiny_args)
        train_model(
            "sepunet-restorer", tmp_path / layout, tmp_path / layout / "run", model_args=args, settings=settings
        )
        weights[layout] = read_checkpoint(tmp_path / layout / "run" / "last.pt")["state_dict"]
    assert weights["imagefolder"].keys() == weights["parquet"].keys()
    assert all(torch.equal(weights["imagefolder"][k], weights["parquet"][k]) for k in weights["parquet"])


@pytest.fixture
def built(tmp_path, src) -> Path:
    out = tmp_path / "built"
    build_dataset(tiny_recipe("jpeg"), out, source=f"folder:{src}", workers=1, layout="parquet")
    return out


def rewrite(shard: Path, change) -> None:
    """Rewrite a shard with ``change`` applied to its table, keeping its schema (what an editor would do)."""
    table = pq.read_table(shard)
    pq.write_table(change(table), shard)


def first_shard(root: Path, split: str = "test") -> Path:
    return next((root / split).glob("*.parquet"))


def test_an_edited_image_in_a_shard_is_refused_naming_it(built):
    shard = first_shard(built)
    black = np.zeros((32, 32, 3), np.uint8)

    def blacken(table: pa.Table) -> pa.Table:
        cells = table.column("input").to_pylist()
        buf = io.BytesIO()
        Image.fromarray(black).save(buf, format="PNG")
        cells[0] = {"bytes": buf.getvalue(), "path": cells[0]["path"]}
        return table.set_column(table.schema.get_field_index("input"), "input", pa.array(cells, table["input"].type))

    rewrite(shard, blacken)
    info = json.loads((built / "dataset.json").read_text())
    info["shards"][f"test/{shard.name}"]["bytes"] = shard.stat().st_size  # a careful forger fixes the size too
    (built / "dataset.json").write_text(json.dumps(info))
    split = open_dataset(built).split("test")  # the metadata is untouched
    name = split.metadata["input_file_name"][0]
    with pytest.raises(DatasetError, match=rf"test/{name} \(in {shard.name}\): contents differ from the dataset's"):
        split[0]
    assert split[1].input.shape == (32, 32, 3)


def test_edited_metadata_in_a_shard_is_refused_before_any_sample(built):
    shard = first_shard(built)

    def requality(table: pa.Table) -> pa.Table:
        index = table.schema.get_field_index("quality")
        return table.set_column(index, "quality", pa.array([95] * table.num_rows, pa.int64()))

    rewrite(shard, requality)
    info = json.loads((built / "dataset.json").read_text())
    info["shards"][f"test/{shard.name}"]["bytes"] = shard.stat().st_size
    (built / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=r"test/metadata.csv \(the metadata columns of .*\): contents differ"):
        open_dataset(built).split("test")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda shard: shard.unlink(), r"\.parquet: missing \(listed in the dataset's shards\)"),
        (lambda shard: shard.write_bytes(shard.read_bytes()[:-100]), r"\.parquet: \d+ bytes, the dataset records \d+"),
        (
            lambda shard: shard.write_bytes(b"\0" * shard.stat().st_size),
            r"\.parquet: not a readable Parquet file: .*; the dataset was modified",
        ),
    ],
    ids=["deleted", "truncated", "garbage"],
)
def test_a_missing_truncated_or_garbage_shard_is_one_line(built, edit, message):
    edit(first_shard(built))
    with pytest.raises(DatasetError, match=message):
        open_dataset(built).split("test")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layout": "zip"}, r"unknown layout 'zip'; expected one of imagefolder, parquet"),
        ({"shards": []}, r"key 'shards' must map shard paths"),
        ({"shards": {"test/../x.parquet": {}}}, r"shard entry 'test/../x.parquet': expected"),
        ({"format_version": 1}, r"format version 1 does not go with layout parquet \(version 2\)"),
        ({"format_version": 3}, r"format version 3 is not supported \(this pixbench reads dataset version 1\)"),
    ],
)
def test_a_malformed_parquet_dataset_json_is_one_line(built, change, message):
    info = json.loads((built / "dataset.json").read_text())
    info.update(change)
    (built / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=message):
        open_dataset(built)


def test_switching_layouts_needs_overwrite_and_deletes_only_the_dataset(built, src):
    (built / "notes.txt").write_text("mine")
    recipe = tiny_recipe("jpeg")
    with pytest.raises(DatasetError, match=r"already holds a different dataset .*format parquet"):
        build_dataset(recipe, built, source=f"folder:{src}", workers=1)
    result = build_dataset(recipe, built, source=f"folder:{src}", workers=1, overwrite=True)
    assert not list(built.rglob("*.parquet")) and (built / "notes.txt").read_text() == "mine"
    again = build_dataset(recipe, built, source=f"folder:{src}", workers=1, layout="parquet", overwrite=True)
    assert again.info["fingerprint"] == result.info["fingerprint"]
    assert not list(built.rglob("*.png")) and not list(built.rglob("metadata.csv"))
    same = build_dataset(recipe, built, source=f"folder:{src}", workers=1, layout="parquet")
    assert same.up_to_date


def test_overwrite_clears_a_half_assembled_parquet_folder(tmp_path, src, monkeypatch):
    out = tmp_path / "out"
    recipe = tiny_recipe("jpeg")
    real, opened = pq.ParquetWriter.__init__, []

    def crash_on_the_second_shard(self, *args, **kwargs):
        opened.append(1)
        if len(opened) == 2:  # the first split's only shard is complete by now
            raise Stop
        real(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "__init__", crash_on_the_second_shard)
    with pytest.raises(Stop):
        build_dataset(recipe, out, source=f"folder:{src}", workers=1, layout="parquet")
    monkeypatch.undo()
    assert list(out.rglob("*.parquet")), "a shard was completed before the crash"
    other = tiny_recipe("jpeg", seed=8)
    result = build_dataset(other, out, source=f"folder:{src}", workers=1, layout="parquet", overwrite=True)
    assert open_dataset(out).fingerprint == result.info["fingerprint"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "zip"], "error: --format: expected one of imagefolder, parquet, got 'zip'"),
        (["--parquet-shard-mb", "10"], "error: --parquet-shard-mb needs --format parquet"),
        (["--format", "parquet", "--parquet-shard-mb", "0"], "error: --parquet-shard-mb: expected 1 or more"),
    ],
)
def test_bad_layout_options_are_one_line_before_any_work(tmp_path, src, args, message):
    result = invoke("build-dataset", "jpeg", "-o", tmp_path / "o", "--source", f"folder:{src}", *args)
    assert result.exit_code == 1 and result.output.strip().startswith(message), result.output
    assert not (tmp_path / "o").exists()


def test_the_cli_builds_parquet_and_names_the_shard_size_on_the_card(tmp_path, src):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(tiny_recipe("jpeg").canonical_yaml())
    args = ["build-dataset", recipe, "-o", tmp_path / "o", "--source", f"folder:{src}", "--workers", "1"]
    result = invoke(*args, "--format", "parquet", "--parquet-shard-mb", "64")
    assert result.exit_code == 0 and "fingerprint sha256:" in result.output, result.output
    info = json.loads((tmp_path / "o" / "dataset.json").read_text())
    assert info["build"]["format"] == "parquet" and info["build"]["shard_mb"] == 64
    assert "--format parquet --parquet-shard-mb 64" in (tmp_path / "o" / "README.md").read_text()
