"""Training harness: task checks, determinism, resume, checkpoints, losses, the train command."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torchvision.models import vgg19
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.errors import DatasetError, ModelError, WeightsNotFoundError
from pixbench.models import MODELS
from pixbench.train import TrainSettings, parse_model_options, train_model
from pixbench.train.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from pixbench.train.losses import VGG_LAYERS, VGGPerceptualLoss, restorer_loss
from tests.synth import write_tiny_dataset

TINY = dict(epochs=2, batch_size=2, crop=16)


def _tiny(name: str) -> dict:
    return dict(MODELS.get(name).tiny_args)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    return {task: write_tiny_dataset(root / task, task, n=4, size=32)
            for task in ("detect", "depixelate", "jpeg", "blockcnn", "inpaint")}


def _weights(path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)["state_dict"]


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_trains_and_writes_its_run(name, datasets, tmp_path):
    spec = MODELS.get(name)
    crop = None if spec.input_kind == "masked" else 16
    settings = TrainSettings(epochs=1, batch_size=2, crop=crop)
    result = train_model(name, datasets[spec.tasks[0]], tmp_path / "run", model_args=_tiny(name), settings=settings)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt", "last.pt", "metrics.csv"]
    csv = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(csv["epoch"]) == [1]
    assert result.best_metric in csv.columns and "val_loss" in csv.columns
    assert csv["train_loss"].notna().all() and (csv["train_loss"] > 0).all()
    ckpt = read_checkpoint(result.best)
    assert ckpt["model"] == name and ckpt["dataset"]["fingerprint"] == "sha256:" + "0" * 64
    assert ckpt["dataset"]["recipe"] == {"name": f"tiny-{spec.tasks[0]}", "version": 1}
    assert ckpt["settings"]["batch_size"] == 2 and ckpt["model_args"] == spec.full_args(_tiny(name))


def test_same_seed_same_weights_other_seed_differs(datasets, tmp_path):
    runs = {}
    for tag, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_model("sepunet-restorer", datasets["jpeg"], tmp_path / tag, model_args=_tiny("sepunet-restorer"),
                    settings=TrainSettings(seed=seed, **TINY))
        runs[tag] = _weights(tmp_path / tag / "last.pt")
    for key in runs["a"]:
        assert torch.equal(runs["a"][key], runs["b"][key]), key
    assert any(not torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"] if runs["a"][k].is_floating_point())


@pytest.mark.parametrize("name", ["sepunet-detector", "pix2pix-inpainter"])
def test_resume_equals_uninterrupted(name, datasets, tmp_path):
    """1 epoch + --resume to 2 ends with exactly the weights of 2 epochs in one go (dropout RNG included)."""
    task, crop = MODELS.get(name).tasks[0], None if name.startswith("pix2pix") else 16
    straight = TrainSettings(epochs=2, batch_size=2, crop=crop, seed=1)
    train_model(name, datasets[task], tmp_path / "straight", model_args=_tiny(name), settings=straight)
    train_model(name, datasets[task], tmp_path / "split", model_args=_tiny(name), settings=straight.model_copy(update={"epochs": 1}))
    with pytest.raises(ModelError, match="already holds a training run.*--resume"):
        train_model(name, datasets[task], tmp_path / "split", model_args=_tiny(name), settings=straight)
    train_model(name, datasets[task], tmp_path / "split", settings=straight, resume=True)
    a, b = _weights(tmp_path / "straight" / "last.pt"), _weights(tmp_path / "split" / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert list(pd.read_csv(tmp_path / "split" / "metrics.csv")["epoch"]) == [1, 2]


def test_task_and_run_folder_errors(datasets, tmp_path):
    with pytest.raises(ModelError, match="trains on detect datasets, but .* is a 'jpeg' dataset; models for 'jpeg': sepunet-restorer"):
        train_model("sepunet-detector", datasets["jpeg"], tmp_path / "r")
    with pytest.raises(ModelError, match="--resume: .* has no last.pt"):
        train_model("espcn", datasets["depixelate"], tmp_path / "none", resume=True)
    # the synthetic depixelate dataset is pixelated by 4 only; an x8 ESPCN has nothing to learn from
    with pytest.raises(ModelError, match=r"scale=8 trains on .* has factor\(s\) \[4\]: pass --arg scale=N"):
        train_model("espcn", datasets["depixelate"], tmp_path / "r", model_args={"scale": 8})
    with pytest.raises(ModelError, match="--crop 16: pix2pix-inpainter needs crops of at least 64"):
        train_model("pix2pix-inpainter", datasets["inpaint"], tmp_path / "r", settings=TrainSettings(crop=16))
    # six stride-2 steps cannot run on 32x32 samples: one line, not a torch traceback
    with pytest.raises(ModelError, match=r"pix2pix-inpainter cannot run on the training batch of shape \(2, 4, 32, 32\)"):
        train_model("pix2pix-inpainter", datasets["inpaint"], tmp_path / "p", settings=TrainSettings(batch_size=2))
    with pytest.raises(ModelError, match="--loss mse: sepunet-detector always trains with BCE"):
        train_model("sepunet-detector", datasets["detect"], tmp_path / "r", settings=TrainSettings(loss="mse"))
    no_val = write_tiny_dataset(tmp_path / "noval", "jpeg", n=2, size=32, splits=("train", "test"))
    with pytest.raises(DatasetError, match="no 'val' split"):
        train_model("sepunet-restorer", no_val, tmp_path / "r")
    with pytest.raises(ModelError, match="--device 'gpu0': not a device"):
        train_model("sepunet-restorer", datasets["jpeg"], tmp_path / "r", settings=TrainSettings(device="gpu0"))


def test_checkpoint_loading_is_strict(datasets, tmp_path):
    train_model("espcn", datasets["depixelate"], tmp_path / "r", model_args=_tiny("espcn"), settings=TrainSettings(epochs=1, crop=16))
    ckpt = read_checkpoint(tmp_path / "r" / "best.pt")
    spec, model = model_from_checkpoint(ckpt)
    assert spec.name == "espcn" and model.scale == 4
    ckpt["state_dict"]["conv1.extra"] = torch.zeros(1)
    save_checkpoint(tmp_path / "bad.pt", ckpt)
    with pytest.raises(ModelError, match="weights do not fit the model.*conv1.extra"):
        model_from_checkpoint(read_checkpoint(tmp_path / "bad.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="junk.pt: cannot read it"):
        read_checkpoint(tmp_path / "junk.pt")


def test_perceptual_loss_needs_weights_and_loads_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsNotFoundError, match="vgg19-dcbb9e9d.pth; pixbench does not download them"):
        restorer_loss("perceptual")
    # only the features up to block4_conv2 are read; a file holding just those is enough
    torch.manual_seed(0)
    features = vgg19(weights=None).features[: max(VGG_LAYERS) + 1]
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, tmp_path / "vgg.pth")
    loss = VGGPerceptualLoss(tmp_path / "vgg.pth")
    x, y = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    assert float(loss(x, x)) == 0.0  # identical images: every L1 term is exactly zero
    assert float(loss(x, y)) > float(torch.nn.functional.l1_loss(x, y))  # feature terms add to the pixel L1
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ModelError, match="not torchvision VGG-19 weights"):
        VGGPerceptualLoss(tmp_path / "bad.pth")


def test_parse_model_options():
    spec = MODELS.get("mobilenetv2-classifier")
    assert parse_model_options(spec, ["input_size=160", "freeze-depth=4", "width_mult=0.5", "pretrained=false"]) == {
        "input_size": 160, "freeze_depth": 4, "width_mult": 0.5, "pretrained": False}
    with pytest.raises(ModelError, match="--arg input_size='big': expected a int"):
        parse_model_options(spec, ["input_size=big"])
    with pytest.raises(ModelError, match="--arg depth: mobilenetv2-classifier has no such option"):
        parse_model_options(spec, ["depth=3"])
    with pytest.raises(ModelError, match="expected KEY=VALUE"):
        parse_model_options(spec, ["3"])


def test_train_command(datasets, tmp_path):
    runner = CliRunner()
    args = ["train", "espcn", "--dataset", str(datasets["depixelate"]), "-o", str(tmp_path / "run"),
            "--epochs", "1", "--batch-size", "2", "--crop", "16", "--arg", "channels=4"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "best psnr" in result.output and (tmp_path / "run" / "best.pt").is_file()
    bad = runner.invoke(app, ["train", "espcn", "--dataset", str(datasets["jpeg"]), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "error:" in bad.output and "Traceback" not in bad.output
    pre = runner.invoke(app, ["train", "espcn", "--dataset", str(datasets["depixelate"]), "-o", str(tmp_path / "y"), "--pretrained"])
    assert pre.exit_code == 1 and "applies to mobilenetv2-classifier" in pre.output


def test_lowres_model_trains_on_its_factor_only(tmp_path):
    from pixbench.datasets import open_dataset
    from pixbench.train.data import SplitBatches

    root = write_tiny_dataset(tmp_path / "mixed", "depixelate", n=4, size=32)
    for split in ("train", "val"):
        meta = pd.read_csv(root / split / "metadata.csv")
        meta.loc[:1, "factor"] = 2  # two of four samples now claim factor 2
        meta.to_csv(root / split / "metadata.csv", index=False)
    spec = MODELS.get("espcn")
    batches = SplitBatches(open_dataset(root).split("train"), spec, crop=None, scale=4)
    assert len(batches) == 2
    assert sum(len(b.input) for b in batches.batches(8)) == 2
    result = train_model("espcn", root, tmp_path / "run", model_args=_tiny("espcn"), settings=TrainSettings(epochs=1, crop=16))
    assert result.history[0]["psnr"] > 0


@pytest.mark.parametrize(("header", "message"), [
    ({"format": "something-else", "format_version": 1}, r"not a pixbench checkpoint \(expected a file written by"),
    ({"format": "pixbench-checkpoint", "format_version": 7},
     r"format version 7 is not supported \(this pixbench reads checkpoint version 1\)"),
])
def test_foreign_checkpoints_get_one_line(tmp_path, header, message):
    from pixbench.train.checkpoint import read_checkpoint

    path = tmp_path / "c.pt"
    torch.save(header, path)
    with pytest.raises(ModelError, match=message):
        read_checkpoint(path)
