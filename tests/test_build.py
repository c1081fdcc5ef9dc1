"""The builder end to end on small synthetic folders: every task, determinism, resume, bad input."""

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from pixbench.builder import build_dataset, sample_seed
from pixbench.cli import app
from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError
from pixbench.recipes import load_recipe_file, parse_recipe
from tests.conftest import REPO_ROOT

SPLITS = {"train": 0.5, "val": 0.25, "test": 0.25}
TINY = {
    "detect": {
        "crop": {"size": 32, "per_image": 4},
        "degradations": [
            {
                "op": "pixelate",
                "factors": [2, 3, 4],
                "down_kernels": ["box", "lanczos"],
                "up_kernels": ["nearest", "bicubic"],
            }
        ],
        "negatives": [{"kind": "clean"}, {"kind": "jpeg", "qualities": [80]}, {"kind": "sharp"}, {"kind": "smooth"}],
    },
    "depixelate": {
        "crop": {"size": 32, "per_image": 2, "align": 4},
        "degradations": [{"op": "pixelate", "factors": [2, 4], "down_kernels": ["box"], "up_kernels": ["nearest"]}],
    },
    "jpeg": {
        "crop": {"size": 32, "per_image": 2, "align": 16},
        "degradations": [{"op": "jpeg", "qualities": [10, 30]}],
    },
    "blockcnn": {
        "crop": {"size": 32, "per_image": 2, "align": 16},
        "degradations": [{"op": "jpeg", "qualities": [20]}],
        "triplets": {"per_crop": 3},
    },
    "inpaint": {
        "crop": {"size": 32, "per_image": 2},
        "degradations": [{"op": "holes", "count": 2, "size": 10, "fill": 0}],
    },
}


def tiny_recipe(task: str, **extra):
    data = {
        "name": f"tiny-{task}",
        "version": 1,
        "task": task,
        "seed": 7,
        "source": "embedded",
        "splits": SPLITS,
        **TINY[task],
        **extra,
    }
    return parse_recipe(data)


def photo(seed: int, h: int = 48, w: int = 56) -> np.ndarray:
    """A smooth colour gradient with mild noise: photo-like enough for crops and JPEG."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w) + 60 * (seed % 3)], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def write_photos(folder: Path, n: int, start: int = 0, **size) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        Image.fromarray(photo(i, **size)).save(folder / f"p{i:03d}.png")
    return folder


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("task", list(TINY))
def test_every_task_builds_a_readable_dataset(tmp_path, task):
    src = write_photos(tmp_path / "src", 6)
    result = build_dataset(tiny_recipe(task), tmp_path / "out", source=f"folder:{src}", workers=1)
    ds = open_dataset(tmp_path / "out")
    assert ds.task == task and ds.fingerprint == result.info["fingerprint"]
    total = sum(c["samples"] for c in result.info["splits"].values())
    assert total == 6 * TINY[task]["crop"]["per_image"]
    assert ds.splits, "at least one split"
    split = ds.split(ds.splits[0])
    sample = split[0]
    assert sample.input.shape == (32, 32, 3)
    meta = split.metadata
    for col in ("sample_id", "input_file_name", "source_id", "source_sha256", "seed", "params", "crop_x"):
        assert col in meta.columns
    if task == "detect":
        labels = [int(v) for s in ds.splits for v in ds.split(s).metadata["label"]]
        assert labels.count(1) == labels.count(0)  # balanced classes
        pos = meta[meta["label"] == 1].iloc[0]
        assert pos["factor"] != "" and pos["down_kernel"] in ("box", "lanczos") and pos["negative_kind"] == ""
    if task == "depixelate":
        factor = int(sample.meta["factor"])
        assert sample.lowres.shape == (32 // factor, 32 // factor, 3)
        assert int(sample.meta["crop_x"]) % 4 == 0  # on the align grid
    if task == "inpaint":
        holes = json.loads(sample.meta["holes"])
        assert len(holes) == 2 and sample.mask.sum() == 2 * 10 * 10
        assert (sample.input[sample.mask] == 0).all()
        assert (sample.input[~sample.mask] == sample.target[~sample.mask]).all()
    if task == "blockcnn":
        x, y = split.triplets()
        assert x.shape == (len(split) * 3, 24, 24, 3) and y.shape == (len(split) * 3, 8, 8, 3)
        trip = split.triplet_metadata()
        first = trip.iloc[0]
        # the target is the clean 8x8 block of the sample's target image at (block_x, block_y)
        target = split[0].target
        bx, by = int(first["block_x"]), int(first["block_y"])
        assert first["sample_id"] == split[0].sample_id and bx % 8 == 0 and by % 8 == 0
        assert (y[0] == target[by : by + 8, bx : bx + 8]).all()
        assert (x[0] == split[0].input[by - 8 : by + 16, bx - 8 : bx + 16]).all()
    card = (tmp_path / "out" / "README.md").read_text()
    assert result.info["fingerprint"] in card and "libjpeg" in card
    assert yaml.safe_load((tmp_path / "out" / "recipe.yaml").read_text())["name"] == f"tiny-{task}"


def test_workers_and_reruns_give_identical_bytes(tmp_path):
    src = write_photos(tmp_path / "src", 6)
    recipe = tiny_recipe("blockcnn")
    one = build_dataset(recipe, tmp_path / "w1", source=f"folder:{src}", workers=1)
    two = build_dataset(recipe, tmp_path / "w2", source=f"folder:{src}", workers=2)
    assert one.info["fingerprint"] == two.info["fingerprint"]
    assert tree(tmp_path / "w1") == tree(tmp_path / "w2")
    again = build_dataset(recipe, tmp_path / "w1", source=f"folder:{src}", workers=2)
    assert again.up_to_date and again.info["fingerprint"] == one.info["fingerprint"]


def test_adding_an_image_changes_no_other_sample(tmp_path):
    src = write_photos(tmp_path / "src", 5)
    recipe = tiny_recipe("depixelate")
    build_dataset(recipe, tmp_path / "a", source=f"folder:{src}", workers=1)
    write_photos(src, 1, start=5)
    build_dataset(recipe, tmp_path / "b", source=f"folder:{src}", workers=1)
    before = {k: v for k, v in tree(tmp_path / "a").items() if k.endswith(".png")}
    after = tree(tmp_path / "b")
    assert before and all(after[k] == v for k, v in before.items())


def test_per_sample_seed_depends_only_on_identity():
    # derived from sha256("pixbench-sample:{seed}:{sha}:{index}"), not from order or time
    assert sample_seed(1, "ab" * 32, 0) == sample_seed(1, "ab" * 32, 0)
    assert len({sample_seed(1, "ab" * 32, i) for i in range(100)}) == 100
    assert 0 <= sample_seed(2**62, "ff" * 32, 9999) < 2**63


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels (no real pixel data needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_bad_inputs_are_skipped_with_reasons(tmp_path):
    src = write_photos(tmp_path / "src", 3)
    (src / "empty.png").write_bytes(b"")
    good = (src / "p000.png").read_bytes()
    (src / "truncated.png").write_bytes(good[: len(good) // 3])
    (src / "readme.txt").write_text("hello")
    Image.fromarray(photo(9, 20, 20)).save(src / "tiny.png")
    (src / "bomb.png").write_bytes(_bomb_png(20000, 20000))
    (src / "zz-dup.png").write_bytes(good)
    runner = CliRunner()
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump(tiny_recipe("jpeg").canonical()))
    result = runner.invoke(
        app,
        ["build-dataset", str(recipe_file), "-o", str(tmp_path / "out"), "--source", f"folder:{src}", "--workers", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    info = json.loads((tmp_path / "out" / "dataset.json").read_text())
    reasons = {s["source_id"]: s["reason"] for s in info["skipped"]}
    assert set(reasons) == {"empty.png", "truncated.png", "readme.txt", "tiny.png", "bomb.png", "zz-dup.png"}
    assert "empty file" in reasons["empty.png"]
    assert "cannot decode" in reasons["truncated.png"] and "cannot decode" in reasons["readme.txt"]
    assert "smaller than the crop: 20x20" in reasons["tiny.png"]
    assert "decompression bomb" in reasons["bomb.png"]
    assert reasons["zz-dup.png"] == "duplicate: same pixels as p000.png"
    assert str(src) not in json.dumps(info["skipped"])  # reasons name the source id, not the local path
    assert sum(c["source_images"] for c in info["splits"].values()) == 3
    assert "6 skipped" in result.output and "fingerprint sha256:" in result.output


def test_output_folder_rules(tmp_path):
    src = write_photos(tmp_path / "src", 2)
    build_dataset(tiny_recipe("jpeg"), tmp_path / "out", source=f"folder:{src}", workers=1)
    with pytest.raises(DatasetError, match="already holds a different dataset .*tiny-inpaint|pass --overwrite"):
        build_dataset(tiny_recipe("inpaint"), tmp_path / "out", source=f"folder:{src}", workers=1)
    with pytest.raises(DatasetError, match="pass --overwrite"):
        build_dataset(tiny_recipe("jpeg"), tmp_path / "out", source=f"folder:{src}", limit=1, workers=1)
    replaced = build_dataset(
        tiny_recipe("inpaint"), tmp_path / "out", source=f"folder:{src}", workers=1, overwrite=True
    )
    assert open_dataset(tmp_path / "out").task == "inpaint" and replaced.processed == 2
    (tmp_path / "out" / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError, match="different dataset \\(an unknown build\\)"):
        build_dataset(tiny_recipe("inpaint"), tmp_path / "out", source=f"folder:{src}", workers=1)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(DatasetError, match="not a pixbench dataset"):
        build_dataset(tiny_recipe("jpeg"), foreign, source=f"folder:{src}", workers=1, overwrite=True)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_cli_recipe_error_is_one_red_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    data = tiny_recipe("jpeg").canonical()
    data["crop"]["stride"] = 2
    bad.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["build-dataset", str(bad), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "crop.stride: unknown key; allowed keys: size, per_image, align" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_resume_after_kill_9(tmp_path):
    src = write_photos(tmp_path / "src", 40, h=128, w=128)
    recipe = tiny_recipe("depixelate", crop={"size": 64, "per_image": 24, "align": 4})
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(recipe.canonical_yaml())
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "pixbench",
        "build-dataset",
        str(recipe_file),
        "-o",
        str(out),
        "--source",
        f"folder:{src}",
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    done = out / ".pixbench-build" / "done"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if done.is_dir() and len(list(done.glob("*.json"))) >= 5:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, like a power cut
    proc.wait()
    assert not (out / "dataset.json").exists(), "the build finished before it could be killed"
    with pytest.raises(DatasetError, match="half-built"):
        open_dataset(out)
    resumed = build_dataset(recipe, out, source=f"folder:{src}", workers=2)
    assert resumed.reused >= 5 and resumed.processed + resumed.reused == 40
    fresh = build_dataset(recipe, tmp_path / "fresh", source=f"folder:{src}", workers=2)
    assert resumed.info["fingerprint"] == fresh.info["fingerprint"]
    assert tree(out) == tree(tmp_path / "fresh")


def test_hugging_face_imagefolder_loads_the_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    src = write_photos(tmp_path / "src", 8)
    info = build_dataset(tiny_recipe("depixelate"), tmp_path / "out", source=f"folder:{src}", workers=1).info
    hf = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    names = {"train": "train", "val": "validation", "test": "test"}
    assert {names[s] for s in info["splits"]} == set(hf)
    split = next(iter(info["splits"]))
    part = hf[names[split]]
    assert len(part) == info["splits"][split]["samples"]
    assert isinstance(part.features["input"], datasets.Image) and isinstance(part.features["target"], datasets.Image)
    row = part[0]
    assert row["input"].size == (32, 32) and row["lowres"].size[0] in (8, 16)
    reader = open_dataset(tmp_path / "out").split(split)
    match = reader.metadata.index[reader.metadata["sample_id"] == row["sample_id"]][0]
    assert (np.asarray(row["target"]) == reader[int(match)].target).all()


def test_quick_start_parameters_are_pinned(tmp_path):
    from pixbench.recipes import resolve_recipe

    recipe, _ = resolve_recipe("detect")
    info = build_dataset(recipe, tmp_path / "qs", limit=1, workers=1).info
    assert info["splits"] == {"train": {"samples": 32, "source_images": 1}}  # astronaut.png lands in train
    meta = open_dataset(tmp_path / "qs").split("train").metadata
    first = meta.iloc[0]
    # Recorded when detect@1 was published: these values depend only on the recipe seed and
    # the pixel hash of skimage's astronaut.png, not on any encoder; a change breaks version 1.
    assert first["sample_id"] == "3387e1b4a3ef9696-0000"
    assert (int(first["seed"]), int(first["factor"]), first["down_kernel"], first["up_kernel"]) == PINNED_FIRST
    assert (meta["label"].astype(int) == 1).sum() == 16


PINNED_FIRST = (3978972757991338048, 16, "bicubic", "lanczos")


def test_build_from_a_streamed_hub_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import io

    import datasets

    def png(i):
        buf = io.BytesIO()
        Image.fromarray(photo(i)).save(buf, format="PNG")
        return buf.getvalue()

    rows = {"image": [{"bytes": png(i), "path": None} for i in range(4)] + [{"bytes": b"junk", "path": None}]}
    table = datasets.Dataset.from_dict(rows, features=datasets.Features({"image": datasets.Image()}))
    (tmp_path / "hub" / "data").mkdir(parents=True)
    table.to_parquet(str(tmp_path / "hub" / "data" / "train-00000-of-00001.parquet"))
    folder = write_photos(tmp_path / "src", 4)
    recipe = tiny_recipe("jpeg")
    hub = build_dataset(recipe, tmp_path / "a", source=f"hf:{tmp_path / 'hub'}", workers=2).info
    local = build_dataset(recipe, tmp_path / "b", source=f"folder:{folder}", workers=1).info
    assert [s["source_id"] for s in hub["skipped"]] == ["train/00000004"]
    assert "cannot decode image" in hub["skipped"][0]["reason"]
    # same pixels, same samples: the source ids differ but every sample file is identical
    files_a = {k: v for k, v in tree(tmp_path / "a").items() if k.endswith(".png")}
    assert files_a == {k: v for k, v in tree(tmp_path / "b").items() if k.endswith(".png")}
    assert hub["splits"] == local["splits"]


def _hard_negatives_recipe(negative: dict):
    base = {
        "name": "tiny-hard",
        "version": 1,
        "task": "detect",
        "seed": 7,
        "source": "embedded",
        "splits": SPLITS,
        "crop": {"size": 64, "per_image": 2},
        "negatives": [negative],
        "degradations": [{"op": "pixelate", "factors": [2], "down_kernels": ["box"], "up_kernels": ["nearest"]}],
    }
    return parse_recipe(base)


def _block_phase(crop: np.ndarray) -> int:
    """The column offset (mod 8) where JPEG block edges are: the largest mean jump between neighbours."""
    grey = crop.astype(np.float64).mean(axis=2)
    jumps = np.abs(np.diff(grey, axis=1)).mean(axis=0)  # jumps[c] is between columns c and c + 1
    return int(np.argmax([jumps[p::8].mean() for p in range(8)]) + 1) % 8


def test_hard_negatives_compose_jpeg_phase_double_compression_and_prescale():
    from pixbench.builder.samples import make_sample, min_side

    rng = np.random.default_rng(0)
    photo = (rng.random((200, 200, 3)) * 255).astype(np.uint8)  # noise: JPEG q10 leaves strong block edges
    recipe = _hard_negatives_recipe(
        {"kind": "clean", "name": "clean-jpeg-phase", "qualities": [10], "requalities": [90], "jpeg_phase": "random"}
    )
    phases = set()
    for seed in range(12):
        sample = make_sample(photo, recipe, np.random.default_rng(seed), 1)  # odd index: a negative
        p = sample.params
        assert sample.label == 0 and sample.input.shape == (64, 64, 3)
        assert (p["negative_kind"], p["quality"], p["requality"]) == ("clean-jpeg-phase", 10, 90)
        assert p["crop_w"] == 64 + 8  # cut from a region one JPEG block larger
        # block edges sit where the compressed region's grid falls: jpeg_x pixels before the crop's corner
        assert _block_phase(sample.input) == (-p["jpeg_x"]) % 8
        phases.add(p["jpeg_x"])
    assert len(phases) > 3  # the phase really varies
    shrunk = _hard_negatives_recipe(
        {
            "kind": "smooth",
            "name": "smooth-shrunk",
            "qualities": [70],
            "prescale": {"factors": [2.5], "kernels": ["lanczos"]},
        }
    )
    sample = make_sample(photo, shrunk, np.random.default_rng(1), 1)
    assert sample.input.shape == (64, 64, 3) and sample.params["pre_kernel"] == "lanczos"
    assert sample.params["crop_w"] == 160 and sample.params["pre_scale"] == 2.5  # 64 x 2.5 source pixels
    # a photo too small for the factor is shrunk by what it allows (100 / 64), never skipped
    small = make_sample(photo[:100, :120], shrunk, np.random.default_rng(1), 1)
    assert small.params["crop_w"] == 100 and small.params["pre_scale"] == 1.5625 and small.input.shape == (64, 64, 3)
    assert min_side(shrunk) == 66 and min_side(recipe) == 64 + 8  # 66: the positives' region (33 blocks of 2)
    # the new fields default to absent, so a v1 recipe's canonical form (and its bytes) do not change
    assert "jpeg_phase" not in load_recipe_file(REPO_ROOT / "recipes" / "detect.yaml").canonical_yaml()


def test_enlarged_and_texture_negatives():
    from pixbench.builder.samples import make_sample

    rng = np.random.default_rng(0)
    photo = (rng.random((200, 200, 3)) * 255).astype(np.uint8)
    enlarged = _hard_negatives_recipe(
        {"kind": "clean", "name": "enlarged", "prescale": {"factors": [0.5], "kernels": ["bilinear"]}}
    )
    sample = make_sample(photo, enlarged, np.random.default_rng(3), 1)
    p = sample.params
    # cut from a region half the crop's side, then enlarged to the crop: a factor below 1 enlarges
    assert sample.input.shape == (64, 64, 3) and p["crop_w"] == 32 and p["pre_scale"] == 0.5
    x, y = p["crop_x"], p["crop_y"]
    region = photo[y : y + 32, x : x + 32].astype(np.float64)
    # bilinear 2x: the mean is kept and every output pixel lies within its source neighbourhood's range
    assert abs(sample.input.mean() - region.mean()) < 3.0
    assert np.abs(np.diff(sample.input.astype(np.float64), axis=1)).mean() < np.abs(np.diff(region, axis=1)).mean()
    textured = _hard_negatives_recipe({"kind": "texture", "textures": ["grid"], "qualities": [90]})
    kinds = set()
    for seed in range(4):
        sample = make_sample(photo, textured, np.random.default_rng(seed), 1)
        p = sample.params
        bx, by, bw, bh = p["texture_box"]
        assert p["negative_kind"] == "texture" and p["texture"] == "grid" and p["quality"] == 90
        assert 32 <= bw <= 64 and 32 <= bh <= 64 and bx + bw <= 64 and by + bh <= 64
        # graph paper is a light ground: the box is far brighter than the noise photo around it
        inside = sample.input[by : by + bh, bx : bx + bw].astype(np.float64).mean()
        assert inside > 170 > photo.mean()
        kinds.add(tuple(p["texture_box"]))
    assert len(kinds) == 4  # each sample draws its own box


@pytest.mark.parametrize(
    ("negative", "message"),
    [
        ({"kind": "smooth", "requalities": [90]}, "requalities and jpeg_phase need qualities"),
        ({"kind": "jpeg"}, "qualities is required for kind 'jpeg'"),
        ({"kind": "clean", "prescale": {"factors": [0.4], "kernels": ["box"]}}, "greater than or equal to 0.5"),
        ({"kind": "texture"}, "kind 'texture' needs textures"),
        ({"kind": "clean", "textures": ["tiles"]}, "textures needs kind 'texture'"),
        ({"kind": "texture", "textures": ["plaid"]}, "tiles"),
    ],
)
def test_hard_negative_options_are_checked(negative, message):
    with pytest.raises(Exception, match=message):
        _hard_negatives_recipe(negative)
