"""The whole-run cap of `pixbench train` (`max_minutes`, `--max-minutes`): where it stops a run, what the
kept checkpoint then records, resuming, and that it changes no hash and no weights of a run it does not stop.

The stopping tests run on a fake clock that advances a fixed tick at every reading, so where the run
stops does not depend on how busy the machine is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import onnx
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from pixbench.cli import app
from pixbench.errors import ModelError
from pixbench.models import MODELS
from pixbench.train import TrainSettings, config_sha256, load_train_config, train_model
from pixbench.train.checkpoint import read_checkpoint
from pixbench.train.schedule import CLOSING_MARGIN, SAVE_ALLOWANCE, WallCap
from tests.conftest import REPO_ROOT
from tests.synth import write_tiny_dataset

TINY_ARGS = {"width": 4}  # sepunet-restorer, small enough for a step in milliseconds
#: Each published configuration, the registry model it trains, and the exported model of its row.
PUBLISHED = [
    ("sepunet-detector.yaml", "sepunet-detector", "detect/sepunet-detector.onnx"),
    ("mobilenetv2-classifier.yaml", "mobilenetv2-classifier", "detect/mobilenetv2-classifier.onnx"),
    ("sepunet-depixelator-nearest.yaml", "sepunet-depixelator", "depixelate-nearest-x4/sepunet-depixelator.onnx"),
    ("sepunet-restorer-nearest.yaml", "sepunet-restorer", "depixelate-nearest-x4/sepunet-restorer.onnx"),
    ("espcn-x4.yaml", "espcn", "depixelate-nearest-x4/espcn-x4.onnx"),
    ("sepunet-depixelator-lanczos.yaml", "sepunet-depixelator", "depixelate-lanczos-x4/sepunet-depixelator.onnx"),
    ("sepunet-restorer-lanczos.yaml", "sepunet-restorer", "depixelate-lanczos-x4/sepunet-restorer.onnx"),
    ("blockcnn.yaml", "blockcnn", "blockcnn-triplets/blockcnn.onnx"),
    ("pix2pix-inpainter.yaml", "pix2pix-inpainter", "inpaint-2x75/pix2pix-inpainter.onnx"),
]


class FakeClock:
    """``time.perf_counter`` that moves ``tick`` seconds at every reading."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 1000.0, tick

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now


@pytest.fixture
def fake_clock(monkeypatch):
    """The training loop and the cap read a fake clock of 0.5 s per reading."""
    clock = FakeClock(0.5)
    monkeypatch.setattr("pixbench.train.loop.time", clock)
    monkeypatch.setattr("pixbench.train.schedule.time", clock)
    return clock


@pytest.fixture(scope="module")
def jpeg(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("ds") / "jpeg", "jpeg", n=4, size=32)


def train(dataset: Path, out: Path, **settings) -> object:
    values = {"batch_size": 2, "crop": 16, "schedule": "constant", "warmup": 0.0, **settings}
    return train_model("sepunet-restorer", dataset, out, model_args=TINY_ARGS, settings=TrainSettings(**values))


def test_the_cap_reserves_one_step_and_the_closing_with_its_margin():
    cap = WallCap(1.0, spent=30.0, started=time.perf_counter() - 20.0)  # 50 s of the 60 spent
    assert not cap.reached(1.0)  # 50 + 1 + 1.25 x 5 (the allowance before a closing is measured) < 60
    assert cap.reached(4.0)  # 50 + 4 + 6.25 >= 60
    cap.closed(6.0)
    assert not cap.reached(1.0)  # a measured closing replaces the allowance: 50 + 1 + 1.25 x 6 = 58.5
    cap.closed(8.0)
    assert (CLOSING_MARGIN, SAVE_ALLOWANCE) == (1.25, 5.0) and cap.reached(1.0)  # 50 + 1 + 10 >= 60
    assert not WallCap(1.0, spent=40.0).reached(1.0, closings=2)  # 40 + 1 + 2 x 6.25 < 60
    assert WallCap(1.0, spent=47.0).reached(1.0, closings=2)  # 47 + 1 + 12.5 >= 60, where one closing fits
    assert not WallCap(None).reached(1e9)  # no cap


def test_a_capped_run_stops_within_its_cap_and_says_so(jpeg, tmp_path, fake_clock):
    result = train(jpeg, tmp_path / "r", steps=100_000, max_minutes=1.0, val_every=3)
    assert result.capped and 1 < result.steps < 100_000 and result.wall_minutes <= 1.0
    best = read_checkpoint(result.best)["training"]
    assert best["capped"] is True and best["cap_minutes"] == 1.0 and best["run_steps"] == result.steps
    assert best["run_wall_minutes"] == result.wall_minutes <= best["cap_minutes"]
    assert best["budget"] == "steps 100000"  # the budget it was stopped short of
    # the run closed cleanly: its last row is the step it stopped at, validated (val_every 3 or not)
    last = pd.read_csv(tmp_path / "r" / "metrics.csv").iloc[-1]
    assert last["steps"] == result.steps and not pd.isna(last["psnr"])
    assert read_checkpoint(result.last)["state"]["steps"] == result.steps


def test_a_run_ending_within_its_cap_is_the_uncapped_run(jpeg, tmp_path):
    plain = train(jpeg, tmp_path / "plain", steps=5)
    capped = train(jpeg, tmp_path / "capped", steps=5, max_minutes=60.0)
    assert not capped.capped and capped.steps == plain.steps == 5
    assert capped.config_sha256 == plain.config_sha256  # the cap is not part of the config hash
    for name in ("last.pt", "best.pt"):
        a, b = read_checkpoint(tmp_path / "plain" / name), read_checkpoint(tmp_path / "capped" / name)
        assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    best = read_checkpoint(capped.best)["training"]
    assert best["capped"] is False and best["cap_minutes"] == 60.0
    assert "capped" not in read_checkpoint(plain.best)["training"]  # no cap, no cap keys


def test_resuming_needs_time_left_and_then_ends_with_the_uninterrupted_weights(jpeg, tmp_path, fake_clock):
    first = train(jpeg, tmp_path / "r", steps=100_000, max_minutes=1.0)
    assert first.capped
    with pytest.raises(ModelError, match=r"--max-minutes 1 spent, too much to fit another step"):
        train_model(
            "sepunet-restorer",
            jpeg,
            tmp_path / "r",
            settings=TrainSettings(steps=100_000, max_minutes=1.0),
            resume=True,
        )
    total = first.steps + 3
    resumed = train_model(
        "sepunet-restorer", jpeg, tmp_path / "r", settings=TrainSettings(steps=total, max_minutes=10.0), resume=True
    )
    assert not resumed.capped and resumed.steps == total
    assert read_checkpoint(resumed.best)["training"]["run_wall_minutes"] > first.wall_minutes  # both sessions count
    # a constant rate does not depend on the budget, so the capped-then-resumed run is the straight one
    straight = train(jpeg, tmp_path / "straight", steps=total)
    a, b = read_checkpoint(resumed.last)["state_dict"], read_checkpoint(straight.last)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_command_line_cap_and_its_errors(jpeg, tmp_path):
    runner = CliRunner()
    common = ["train", "sepunet-restorer", "-d", str(jpeg), "--steps", "2", "--batch-size", "2", "--crop", "16"]
    done = runner.invoke(app, [*common, "-o", str(tmp_path / "r"), "--arg", "width=4", "--max-minutes", "5"])
    assert done.exit_code == 0, done.output
    assert read_checkpoint(tmp_path / "r" / "best.pt")["training"]["cap_minutes"] == 5.0
    bad = runner.invoke(app, [*common, "-o", str(tmp_path / "bad"), "--max-minutes", "0"])
    assert bad.exit_code == 1 and "--max-minutes=0.0: Input should be greater than 0" in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.parametrize("config, model, onnx_path", PUBLISHED, ids=[c for c, _, _ in PUBLISHED])
def test_published_configs_state_a_20_minute_cap_and_keep_their_hash(config, model, onnx_path):
    spec = MODELS.get(model)
    args, values = load_train_config(REPO_ROOT / "leaderboards" / "configs" / config, spec)
    assert values["max_minutes"] == 20
    exported = onnx.load(str(REPO_ROOT / "leaderboards" / "models" / onnx_path), load_external_data=False)
    record = json.loads({p.key: p.value for p in exported.metadata_props}["pixbench.training"])
    # the hash the published model was trained under, before the configs stated the cap
    assert config_sha256(spec, args, TrainSettings.create(**values)) == record["config_sha256"]
