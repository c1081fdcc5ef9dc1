"""Training harness: task checks, determinism, resume, checkpoints, losses, the train command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.models import vgg19
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.datasets import open_dataset
from pixbench.errors import DatasetError, ModelError, WeightsNotFoundError
from pixbench.models import MODELS
from pixbench.results import host_identity, isa_class, source_revision
from pixbench.train import TrainSettings, config_sha256, load_train_config, lr_factor, parse_model_options, train_model
from pixbench.train.augment import dihedral, grid_safe
from pixbench.train.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from pixbench.train.data import SplitBatches
from pixbench.train.losses import VGG_LAYERS, VGGPerceptualLoss, restorer_loss
from tests.synth import reseal, write_tiny_dataset

TINY = dict(epochs=2, batch_size=2, crop=16)


def _tiny(name: str) -> dict:
    return dict(MODELS.get(name).tiny_args)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    return {
        task: write_tiny_dataset(root / task, task, n=4, size=32)
        for task in ("detect", "depixelate", "jpeg", "blockcnn", "inpaint", "jpeg-gray", "localize")
    }


def _weights(path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)["state_dict"]


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_trains_and_writes_its_run(name, datasets, tmp_path):
    spec = MODELS.get(name)
    crop = None if spec.input_kind == "masked" else 16
    settings = TrainSettings(epochs=1, batch_size=2, crop=crop)
    result = train_model(name, datasets[spec.tasks[0]], tmp_path / "run", model_args=_tiny(name), settings=settings)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt", "curves.png", "last.pt", "metrics.csv"]
    csv = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(csv["epoch"]) == [1]
    assert list(csv.columns[:5]) == ["epoch", "steps", "train_loss", "lr", "seconds"]
    assert result.best_metric in csv.columns and "val_loss" in csv.columns
    assert csv["train_loss"].notna().all() and (csv["train_loss"] > 0).all()
    ckpt = read_checkpoint(result.best)
    assert ckpt["model"] == name
    assert ckpt["dataset"]["fingerprint"] == open_dataset(datasets[spec.tasks[0]]).fingerprint
    assert ckpt["dataset"]["recipe"] == {"name": f"tiny-{spec.tasks[0]}", "version": 1}
    assert ckpt["settings"]["batch_size"] == 2 and ckpt["model_args"] == spec.full_args(_tiny(name))


def test_same_seed_same_weights_other_seed_differs(datasets, tmp_path):
    runs = {}
    for tag, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_model(
            "sepunet-restorer",
            datasets["jpeg"],
            tmp_path / tag,
            model_args=_tiny("sepunet-restorer"),
            settings=TrainSettings(seed=seed, **TINY),
        )
        runs[tag] = _weights(tmp_path / tag / "last.pt")
    for key in runs["a"]:
        assert torch.equal(runs["a"][key], runs["b"][key]), key
    assert any(not torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"] if runs["a"][k].is_floating_point())


class _Interrupt:
    """A progress callback that presses Ctrl-C once training reaches step ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self, phase, done, total, **values):
        if phase == "train" and done == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", ["sepunet-detector", "pix2pix-inpainter"])
def test_resume_equals_uninterrupted(name, datasets, tmp_path):
    """Ctrl-C in epoch 2 of a 6-step run + --resume ends with exactly the uninterrupted weights (dropout RNG included)."""
    task, crop = MODELS.get(name).tasks[0], None if name.startswith("pix2pix") else 16
    straight = TrainSettings(steps=6, batch_size=2, crop=crop, seed=1)  # 4 samples: 2 steps per epoch
    train_model(name, datasets[task], tmp_path / "straight", model_args=_tiny(name), settings=straight)
    with pytest.raises(KeyboardInterrupt):
        train_model(
            name,
            datasets[task],
            tmp_path / "split",
            model_args=_tiny(name),
            settings=straight,
            progress=_Interrupt(at=3),
        )
    assert read_checkpoint(tmp_path / "split" / "last.pt")["state"]["steps"] == 2  # the epoch-1 checkpoint
    with pytest.raises(ModelError, match="already holds a training run.*--resume"):
        train_model(name, datasets[task], tmp_path / "split", model_args=_tiny(name), settings=straight)
    train_model(name, datasets[task], tmp_path / "split", settings=TrainSettings(), resume=True)  # no budget: the run's
    a, b = _weights(tmp_path / "straight" / "last.pt"), _weights(tmp_path / "split" / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert list(pd.read_csv(tmp_path / "split" / "metrics.csv")["epoch"]) == [1, 2, 3]
    assert read_checkpoint(tmp_path / "split" / "last.pt")["training"]["steps"] == 6


def test_resume_inside_an_epoch_with_a_larger_budget(datasets, tmp_path):
    """A 3-step run (it stops inside epoch 2) extended to 5 steps equals 5 steps in one go (constant lr)."""
    model_args, data = _tiny("sepunet-restorer"), datasets["jpeg"]
    five = TrainSettings(steps=5, batch_size=2, crop=16, schedule="constant", warmup=0.0)
    train_model("sepunet-restorer", data, tmp_path / "straight", model_args=model_args, settings=five)
    train_model(
        "sepunet-restorer",
        data,
        tmp_path / "split",
        model_args=model_args,
        settings=five.model_copy(update={"steps": 3}),
    )
    assert read_checkpoint(tmp_path / "split" / "last.pt")["state"]["epoch_steps"] == 1
    with pytest.raises(ModelError, match="has already trained 3 steps; give --steps of at least 3"):
        train_model("sepunet-restorer", data, tmp_path / "split", settings=TrainSettings(steps=2), resume=True)
    train_model("sepunet-restorer", data, tmp_path / "split", settings=TrainSettings(steps=5), resume=True)
    a, b = _weights(tmp_path / "straight" / "last.pt"), _weights(tmp_path / "split" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    csv = pd.read_csv(tmp_path / "split" / "metrics.csv")  # epoch 2's partial row is replaced by the whole epoch
    assert list(csv["epoch"]) == [1, 2, 3] and list(csv["steps"]) == [2, 4, 5]


def test_task_and_run_folder_errors(datasets, tmp_path):
    with pytest.raises(
        ModelError, match="trains on detect datasets, but .* is a 'jpeg' dataset; models for 'jpeg': sepunet-restorer"
    ):
        train_model("sepunet-detector", datasets["jpeg"], tmp_path / "r")
    with pytest.raises(ModelError, match="--resume: .* has no last.pt"):
        train_model("espcn", datasets["depixelate"], tmp_path / "none", resume=True)
    # the synthetic depixelate dataset is pixelated by 4 only; an x8 ESPCN has nothing to learn from
    with pytest.raises(ModelError, match=r"scale=8 trains on .* has factor\(s\) \[4\]: pass --arg scale=N"):
        train_model("espcn", datasets["depixelate"], tmp_path / "r", model_args={"scale": 8})
    with pytest.raises(ModelError, match="--crop 16: pix2pix-inpainter needs crops of at least 64"):
        train_model("pix2pix-inpainter", datasets["inpaint"], tmp_path / "r", settings=TrainSettings(crop=16))
    # six stride-2 steps cannot run on 32x32 samples: one line, not a torch traceback
    with pytest.raises(
        ModelError, match=r"pix2pix-inpainter cannot run on the training batch of shape \(2, 4, 32, 32\)"
    ):
        train_model("pix2pix-inpainter", datasets["inpaint"], tmp_path / "p", settings=TrainSettings(batch_size=2))
    with pytest.raises(ModelError, match="--loss mse: sepunet-detector always trains with BCE"):
        train_model("sepunet-detector", datasets["detect"], tmp_path / "r", settings=TrainSettings(loss="mse"))
    no_val = write_tiny_dataset(tmp_path / "noval", "jpeg", n=2, size=32, splits=("train", "test"))
    with pytest.raises(DatasetError, match="no 'val' split"):
        train_model("sepunet-restorer", no_val, tmp_path / "r")
    with pytest.raises(ModelError, match="--device 'gpu0': not a device"):
        train_model("sepunet-restorer", datasets["jpeg"], tmp_path / "r", settings=TrainSettings(device="gpu0"))


def test_checkpoint_loading_is_strict(datasets, tmp_path):
    train_model(
        "espcn",
        datasets["depixelate"],
        tmp_path / "r",
        model_args=_tiny("espcn"),
        settings=TrainSettings(epochs=1, crop=16),
    )
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
        "input_size": 160,
        "freeze_depth": 4,
        "width_mult": 0.5,
        "pretrained": False,
    }
    with pytest.raises(ModelError, match="--arg input_size='big': expected a int"):
        parse_model_options(spec, ["input_size=big"])
    with pytest.raises(ModelError, match="--arg depth: mobilenetv2-classifier has no such option"):
        parse_model_options(spec, ["depth=3"])
    with pytest.raises(ModelError, match="expected KEY=VALUE"):
        parse_model_options(spec, ["3"])


def test_train_command(datasets, tmp_path):
    runner = CliRunner()
    args = [
        "train",
        "espcn",
        "--dataset",
        str(datasets["depixelate"]),
        "-o",
        str(tmp_path / "run"),
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--crop",
        "16",
        "--arg",
        "channels=4",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "best psnr" in result.output and (tmp_path / "run" / "best.pt").is_file()
    bad = runner.invoke(app, ["train", "espcn", "--dataset", str(datasets["jpeg"]), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "error:" in bad.output and "Traceback" not in bad.output
    pre = runner.invoke(
        app, ["train", "espcn", "--dataset", str(datasets["depixelate"]), "-o", str(tmp_path / "y"), "--pretrained"]
    )
    assert pre.exit_code == 1 and "applies to mobilenetv2-classifier" in pre.output


def test_lowres_model_trains_on_its_factor_only(tmp_path):
    from pixbench.datasets import open_dataset
    from pixbench.train.data import SplitBatches

    root = write_tiny_dataset(tmp_path / "mixed", "depixelate", n=4, size=32)
    for split in ("train", "val"):
        meta = pd.read_csv(root / split / "metadata.csv")
        meta.loc[:1, "factor"] = 2  # two of four samples now claim factor 2
        meta.to_csv(root / split / "metadata.csv", index=False)
    reseal(root)  # a hand-edited dataset needs its manifest brought up to date, or the reader refuses it
    spec = MODELS.get("espcn")
    batches = SplitBatches(open_dataset(root).split("train"), spec, crop=None, factor=4)
    assert len(batches) == 2
    assert sum(len(b.input) for b in batches.batches(8)) == 2
    result = train_model(
        "espcn", root, tmp_path / "run", model_args=_tiny("espcn"), settings=TrainSettings(epochs=1, crop=16)
    )
    assert result.history[0]["psnr"] > 0
    # a full-size model with a fixed grid (grid=4) also learns that factor only: 2 samples, one step of 2
    grid_args = {**_tiny("sepunet-depixelator"), "residual": True, "grid": 4}
    grid = train_model(
        "sepunet-depixelator",
        root,
        tmp_path / "grid",
        model_args=grid_args,
        settings=TrainSettings(epochs=1, batch_size=8, crop=16),
    )
    assert grid.history[0]["steps"] == 1
    with pytest.raises(ModelError, match=r"grid=3 trains on the samples pixelated by that factor, .*\[2, 4\]"):
        train_model(
            "sepunet-depixelator",
            root,
            tmp_path / "g3",
            model_args={**grid_args, "grid": 3},
            settings=TrainSettings(epochs=1, crop=16),
        )
    # any full-size model can be held to one factor by the setting (--factor), and a clash is one clear error
    held = train_model(
        "sepunet-depixelator",
        root,
        tmp_path / "held",
        model_args=_tiny("sepunet-depixelator"),
        settings=TrainSettings(epochs=1, batch_size=8, crop=16, factor=2),
    )
    assert held.history[0]["steps"] == 1
    with pytest.raises(ModelError, match="--factor 2: sepunet-depixelator with grid=4 learns factor 4 only"):
        train_model(
            "sepunet-depixelator",
            root,
            tmp_path / "clash",
            model_args=grid_args,
            settings=TrainSettings(epochs=1, crop=16, factor=2),
        )
    with pytest.raises(ModelError, match=r"--factor 8 trains on .*: pass --factor N with one of them"):
        train_model(
            "sepunet-depixelator",
            root,
            tmp_path / "f8",
            model_args=_tiny("sepunet-depixelator"),
            settings=TrainSettings(epochs=1, crop=16, factor=8),
        )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"format": "something-else", "format_version": 1}, r"not a pixbench checkpoint \(expected a file written by"),
        (
            {"format": "pixbench-checkpoint", "format_version": 7},
            r"format version 7 is not supported \(this pixbench reads checkpoint version 1\)",
        ),
    ],
)
def test_foreign_checkpoints_get_one_line(tmp_path, header, message):
    from pixbench.train.checkpoint import read_checkpoint

    path = tmp_path / "c.pt"
    torch.save(header, path)
    with pytest.raises(ModelError, match=message):
        read_checkpoint(path)


# ---- budgets, schedule, augmentation, cache, AMP, config files, curves, provenance ----


@pytest.mark.parametrize(
    ("schedule", "fraction", "warmup", "expected"),
    [
        ("constant", 0.5, 0.0, 1.0),
        ("constant", 0.01, 0.02, 0.01 + 0.99 * 0.5),  # halfway through a linear warmup from 1% of the peak
        ("cosine", 0.0, 0.0, 1.0),
        ("cosine", 0.5, 0.0, 0.01 + 0.99 * 0.5),  # cos(pi/2) = 0: halfway between peak and floor
        ("cosine", 1.0, 0.0, 0.01),  # the floor: 1% of the peak
        ("cosine", 0.51, 0.02, 0.01 + 0.99 * 0.5),  # warmup takes 2%: the cosine's middle moves to 0.51
        ("cosine", 1.7, 0.0, 0.01),  # clipped to the end
        ("onecycle", 0.0, 0.0, 1 / 25),
        ("onecycle", 0.15, 0.0, 1 / 25 + (1 - 1 / 25) * 0.5),  # half of the 30% rise
        ("onecycle", 0.3, 0.0, 1.0),
        ("onecycle", 0.65, 0.0, 1e-4 + (1 - 1e-4) * 0.5),  # half of the fall
        ("onecycle", 1.0, 0.5, 1e-4),  # warmup does not apply to onecycle
    ],
)
def test_lr_schedule_points(schedule, fraction, warmup, expected):
    # expected values from the closed forms: cosine = floor + (1 - floor) * (1 + cos(pi t)) / 2
    assert lr_factor(schedule, fraction, warmup=warmup) == pytest.approx(expected, rel=1e-12)


def test_lr_schedule_errors():
    with pytest.raises(ValueError, match="schedule 'linear': expected one of constant, cosine, onecycle"):
        lr_factor("linear", 0.5)
    with pytest.raises(
        ModelError, match=r"give one budget \(--epochs, --steps or --minutes\), not --epochs and --steps"
    ):
        TrainSettings.create(epochs=2, steps=3)
    with pytest.raises(ModelError, match="--schedule='step'"):
        TrainSettings.create(schedule="step")


def test_dihedral_transforms_keep_the_grid():
    # a 16x16 image of 8x8 blocks, each block one constant value: the JPEG grid made visible
    blocks = np.arange(4).reshape(2, 2)
    image = np.kron(blocks, np.ones((8, 8), dtype=int))
    outputs = set()
    for k in range(8):
        out = dihedral(image, k)
        assert out.shape == (16, 16)
        # every 8x8 block of the result is still constant: the grid did not move
        tiles = out.reshape(2, 8, 2, 8).transpose(0, 2, 1, 3).reshape(4, 64)
        assert (tiles == tiles[:, :1]).all(), k
        outputs.add(tuple(tiles[:, 0]))
    assert len(outputs) == 8  # the 8 elements of the dihedral group of the 2x2 block pattern
    assert dihedral(np.array([[1, 2], [3, 4]]), 4).tolist() == [[1, 3], [2, 4]]  # element 4 is the transpose
    assert grid_safe(16, 16, 8) == list(range(8))
    assert grid_safe(16, 24, 8) == [0, 1, 2, 3]  # not square: flips only
    assert grid_safe(20, 16, 8) == [0, 1]  # 20 rows are not whole blocks: only the columns may be reversed


def test_augmented_triplets_and_inpaint_masks_move_together(datasets):
    from pixbench.datasets import open_dataset
    from pixbench.train.data import SplitBatches

    ds = open_dataset(datasets["blockcnn"])
    plain = SplitBatches(ds.split("train"), MODELS.get("blockcnn"), crop=None)
    flipped = SplitBatches(ds.split("train"), MODELS.get("blockcnn"), crop=None, augment=True)
    seen = set()
    for seed in range(6):
        a = next(plain.batches(1, np.random.default_rng(seed)))
        b = next(flipped.batches(1, np.random.default_rng(seed)))
        ks = [
            k
            for k in range(8)
            if torch.equal(
                torch.from_numpy(dihedral(a.input[0].permute(1, 2, 0).numpy(), k).copy()), b.input[0].permute(1, 2, 0)
            )
        ]
        assert ks, seed
        # the centre target went through the same transform as its context
        assert torch.equal(
            torch.from_numpy(dihedral(a.target[0].permute(1, 2, 0).numpy(), ks[0]).copy()), b.target[0].permute(1, 2, 0)
        )
        seen.add(ks[0])
    assert len(seen) > 1
    ds = open_dataset(datasets["inpaint"])
    batch = next(
        SplitBatches(ds.split("train"), MODELS.get("pix2pix-inpainter"), crop=16, augment=True).batches(
            2, np.random.default_rng(0)
        )
    )
    assert torch.equal(batch.input[:, 3:], batch.mask)  # the mask channel and the mask got the same transform


def test_steps_budget_val_every_and_curves(datasets, tmp_path):
    settings = TrainSettings(steps=5, batch_size=2, crop=16, val_every=2)
    result = train_model(
        "sepunet-restorer", datasets["jpeg"], tmp_path / "r", model_args=_tiny("sepunet-restorer"), settings=settings
    )
    csv = pd.read_csv(tmp_path / "r" / "metrics.csv", keep_default_na=False)
    # 4 samples / batch 2 = 2 steps per epoch: the 5th step is the first of epoch 3, which is validated as the last
    assert list(csv["epoch"]) == [1, 2, 3] and list(csv["steps"]) == [2, 4, 5]
    assert list(csv["psnr"].astype(str)) == ["", csv["psnr"][1], csv["psnr"][2]] and csv["psnr"][1] != ""
    assert result.steps == 5 and result.epochs == 3
    assert csv["lr"].iloc[-1] == pytest.approx(1e-3 * 0.01)  # cosine ends at 1% of the default lr
    curves = tmp_path / "r" / "curves.png"
    assert curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and curves.stat().st_size < 100_000
    training = read_checkpoint(tmp_path / "r" / "last.pt")["training"]
    assert {k: training[k] for k in ("steps", "epochs", "schedule", "lr", "batch_size", "dataset_recipe")} == {
        "steps": 5,
        "epochs": 3,
        "schedule": "cosine",
        "lr": 1e-3,
        "batch_size": 2,
        "dataset_recipe": "tiny-jpeg@1",
    }
    assert training["device"].startswith("cpu: ") and training["device"].endswith(" threads")
    assert training["torch"] == torch.__version__ and training["config_sha256"] == result.config_sha256


def test_kept_checkpoint_records_the_whole_run_the_host_and_the_code(datasets, tmp_path):
    settings = TrainSettings(steps=5, batch_size=2, crop=16, val_every=1)
    result = train_model(
        "sepunet-restorer", datasets["jpeg"], tmp_path / "r", model_args=_tiny("sepunet-restorer"), settings=settings
    )
    best = read_checkpoint(tmp_path / "r" / "best.pt")
    last = read_checkpoint(tmp_path / "r" / "last.pt")["training"]
    training = best["training"]
    # the kept checkpoint's own step and minutes, and the run's totals (those of last.pt)
    assert training["steps"] == best["best"]["steps"] <= 5
    assert (training["run_steps"], training["run_epochs"], training["run_minutes"]) == (5, 3, last["minutes"])
    assert training["run_minutes"] >= training["minutes"] and training["budget"] == "steps 5"
    assert "run_steps" not in last  # last.pt is the end of the run: its own steps are the totals
    host = training["host"]
    assert host == {**host_identity(), "threads": torch.get_num_threads()} and host["isa"] == isa_class(
        host["cpu_flags"]
    )
    assert training["revision"] == source_revision() and training["numpy"] == np.__version__
    assert training["date"] <= last["date"] and result.steps == 5


def test_minutes_budget_stops_after_the_step_that_runs_out(datasets, tmp_path):
    seen: list[tuple[int, int | None]] = []
    result = train_model(
        "espcn",
        datasets["depixelate"],
        tmp_path / "r",
        model_args=_tiny("espcn"),
        settings=TrainSettings(minutes=0.0005, batch_size=2, crop=16),  # 0.03 s
        progress=lambda phase, done, total, **v: seen.append((done, total)),
    )
    ckpt = read_checkpoint(result.last)
    assert ckpt["state"]["seconds"] >= 0.03 and result.steps >= 1
    assert ckpt["training"]["minutes"] == round(ckpt["state"]["seconds"] / 60, 2)
    assert {total for _, total in seen} == {0}  # the bar counts whole seconds of the budget (0 of 0 here)
    assert not pd.read_csv(tmp_path / "r" / "metrics.csv")["psnr"].isna().iloc[-1]  # the last epoch is validated


def test_amp_cache_are_no_ops_on_the_cpu_and_augment_is_seeded(datasets, tmp_path):
    runs = {}
    for tag, extra in (
        ("base", {}),
        ("no-amp", {"amp": False}),
        ("no-cache", {"cache": False}),
        ("no-aug", {"augment": False}),
        ("base2", {}),
    ):
        train_model(
            "sepunet-restorer",
            datasets["jpeg"],
            tmp_path / tag,
            model_args=_tiny("sepunet-restorer"),
            settings=TrainSettings(steps=3, batch_size=2, crop=16, **extra),
        )
        runs[tag] = _weights(tmp_path / tag / "last.pt")
    same = lambda a, b: all(torch.equal(runs[a][k], runs[b][k]) for k in runs[a])  # noqa: E731
    assert same("base", "no-amp") and same("base", "no-cache") and same("base", "base2")
    assert not same("base", "no-aug")


def test_config_file_equals_flags(datasets, tmp_path):
    runner = CliRunner()
    common = ["train", "espcn", "--dataset", str(datasets["depixelate"]), "--device", "cpu"]
    flags = runner.invoke(
        app,
        [
            *common,
            "-o",
            str(tmp_path / "flags"),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--crop",
            "16",
            "--schedule",
            "onecycle",
            "--no-augment",
            "--arg",
            "channels=4",
        ],
    )
    assert flags.exit_code == 0, flags.output
    config = tmp_path / "run.yaml"
    config.write_text(
        "args:\n  channels: 4\nsettings:\n  steps: 2\n  batch_size: 2\n  crop: 16\n"
        "  schedule: onecycle\n  augment: false\n  cache: false\n"
    )
    from_file = runner.invoke(app, [*common, "-o", str(tmp_path / "file"), "--config", str(config)])
    assert from_file.exit_code == 0, from_file.output
    a, b = read_checkpoint(tmp_path / "flags" / "last.pt"), read_checkpoint(tmp_path / "file" / "last.pt")
    assert a["config_sha256"] == b["config_sha256"] == a["training"]["config_sha256"]  # cache is not part of the hash
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    # the command line wins over the file, and its budget replaces the file's
    over = runner.invoke(
        app, [*common, "-o", str(tmp_path / "over"), "--config", str(config), "--epochs", "1", "--schedule", "constant"]
    )
    assert over.exit_code == 0, over.output
    c = read_checkpoint(tmp_path / "over" / "last.pt")
    assert (c["settings"]["epochs"], c["settings"]["steps"], c["settings"]["schedule"]) == (1, None, "constant")
    assert c["model_args"]["channels"] == 4 and c["config_sha256"] != a["config_sha256"]
    spec = MODELS.get("espcn")
    assert config_sha256(spec, {"channels": 4}, TrainSettings(epochs=10, lr=1e-3, crop=128)) == config_sha256(
        spec, {"channels": 4, "scale": 4}, TrainSettings(device="cpu", cache=False)
    )  # defaults resolved


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("settings:\n  stpes: 3\n", r"bad.yaml: unknown key settings.stpes; settings are epochs, steps"),
        ("args:\n  chanels: 4\n", r"bad.yaml: unknown key args.chanels; espcn's options are scale, channels"),
        ("setting:\n  steps: 3\n", r"bad.yaml: unknown key 'setting'; a config file has args and settings"),
        ("args:\n  channels: many\n", r"bad.yaml: channels='many': expected a int"),
        ("settings:\n  schedule: linear\n", r"--schedule='linear'"),
    ],
)
def test_config_file_errors(datasets, tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ModelError, match=message):
        spec = MODELS.get("espcn")
        _, values = load_train_config(tmp_path / "bad.yaml", spec)
        TrainSettings.create(**values)
    result = CliRunner().invoke(
        app,
        [
            "train",
            "espcn",
            "--dataset",
            str(datasets["depixelate"]),
            "-o",
            str(tmp_path / "r"),
            "--config",
            str(tmp_path / "bad.yaml"),
        ],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output and "error:" in result.output


def test_context_loss_trains_blockcnn_on_the_whole_clean_context(tmp_path):
    from pixbench.builder import build_dataset
    from pixbench.recipes import resolve_recipe
    from pixbench.train.data import SplitBatches

    # the shipped recipe on six embedded photos: real JPEG contexts cut from real clean crops
    root = build_dataset(resolve_recipe("blockcnn-triplets")[0], tmp_path / "ds", limit=6, workers=1).root
    split = open_dataset(root).split("train")
    contexts = split.triplet_contexts()
    x, y = split.triplets()
    assert contexts.shape == (len(x), 24, 24, 3) and len(x) == 64 * 64  # 64 crops of 64 triplets
    np.testing.assert_array_equal(contexts[:, 8:16, 8:16], y)
    # the clean context is what the JPEG context was decoded from: close to it (qualities 10-40), not equal
    err = np.abs(contexts.astype(int) - np.asarray(x, dtype=int)).mean()
    assert 0.5 < err < 15
    batch = next(SplitBatches(split, MODELS.get("blockcnn"), crop=None, context_targets=True).batches(3))
    assert tuple(batch.target.shape) == (3, 3, 24, 24)
    settings = TrainSettings(steps=3, batch_size=2, context_loss=True)
    result = train_model("blockcnn", root, tmp_path / "ctx", model_args=_tiny("blockcnn"), settings=settings)
    plain = train_model(
        "blockcnn",
        root,
        tmp_path / "plain",
        model_args=_tiny("blockcnn"),
        settings=TrainSettings(steps=3, batch_size=2),
    )
    assert result.config_sha256 != plain.config_sha256
    assert not torch.equal(_weights(result.best)["tail.2.weight"], _weights(plain.best)["tail.2.weight"])


def test_context_loss_is_refused_for_other_models(datasets, tmp_path):
    with pytest.raises(ModelError, match="--context-loss: applies to models of BlockCNN triplets"):
        train_model(
            "espcn",
            datasets["depixelate"],
            tmp_path / "e",
            model_args=_tiny("espcn"),
            settings=TrainSettings(steps=1, context_loss=True),
        )


def test_blockcnn_without_norm_restores_the_centre_of_its_context():
    from pixbench.models.blockcnn import blockcnn

    torch.manual_seed(0)
    net = blockcnn(channels=8, blocks=2, norm=False).eval()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    x = torch.rand(2, 3, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net.restore_context(x)[:, :, 8:16, 8:16])


def test_quality_trains_one_jpeg_quality_and_names_a_missing_one(datasets, tmp_path):
    # the tiny jpeg-gray set alternates q10 and q20 (tests/synth.py): 2 of its 4 samples per split are q10
    ds = open_dataset(datasets["jpeg-gray"])
    spec = MODELS.get("gray-deblocker")
    batches = SplitBatches(ds.split("train"), spec, crop=None, quality=10)
    assert len(batches) == 2
    assert set(ds.split("train").metadata["quality"].iloc[batches._rows]) == {10}
    settings = TrainSettings(steps=1, batch_size=2, crop=16, quality=10)
    train_model(
        "gray-deblocker", datasets["jpeg-gray"], tmp_path / "q10", model_args=_tiny("gray-deblocker"), settings=settings
    )
    assert read_checkpoint(tmp_path / "q10" / "last.pt")["settings"]["quality"] == 10
    with pytest.raises(DatasetError, match="no samples of quality 30"):
        train_model(
            "gray-deblocker",
            datasets["jpeg-gray"],
            tmp_path / "q30",
            model_args=_tiny("gray-deblocker"),
            settings=TrainSettings(steps=1, batch_size=2, crop=16, quality=30),
        )
