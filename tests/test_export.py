"""pixbench export: metadata props, a single file, the parity check, and the export command."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from typer.testing import CliRunner

from pixbench import __version__
from pixbench.cli import app
from pixbench.errors import ModelError
from pixbench.export import export_checkpoint, export_model, model_props
from pixbench.models import MODELS
from pixbench.props import EXPORT_ORDER
from pixbench.train import TrainSettings, train_model
from pixbench.train.checkpoint import read_checkpoint
from tests.conftest import REPO_ROOT
from tests.synth import write_tiny_dataset


def _props(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


@pytest.fixture(scope="module")
def espcn_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("espcn")
    ds = write_tiny_dataset(root / "ds", "depixelate", n=2, size=32)
    train_model(
        "espcn", ds, root / "run", model_args={"channels": 4}, settings=TrainSettings(epochs=1, batch_size=2, crop=16)
    )
    return root / "run"


def test_checkpoint_export_writes_dataset_metadata(espcn_run, tmp_path):
    report = export_checkpoint(espcn_run / "best.pt", tmp_path / "espcn.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["espcn.onnx"]
    props = _props(report.path)
    training = json.loads(props.pop("pixbench.training"))
    assert props == {
        "pixbench.task": "depixelate",
        "pixbench.layout": "nchw",
        "pixbench.range": "01",
        "pixbench.channels": "rgb",
        "pixbench.input": "lowres",
        "pixbench.scale": "4",
        "pixbench.model": "espcn",
        "pixbench.model_args": json.dumps({"channels": 4, "scale": 4}, sort_keys=True),
        "pixbench.dataset_fingerprint": read_checkpoint(espcn_run / "best.pt")["dataset"]["fingerprint"],
        "pixbench.recipe": "tiny-depixelate@1",
        "pixbench.version": __version__,
    }
    # the checkpoint's provenance record, as canonical JSON (sorted keys, no spaces)
    ckpt = read_checkpoint(espcn_run / "best.pt")
    assert training == ckpt["training"]
    assert _props(report.path)["pixbench.training"] == json.dumps(training, sort_keys=True, separators=(",", ":"))
    assert training["steps"] == 1 and training["epochs"] == 1 and training["batch_size"] == 2  # 2 samples, batch 2
    assert training["dataset_recipe"] == "tiny-depixelate@1" and training["config_sha256"].startswith("sha256:")
    assert training["schedule"] == "cosine" and training["lr"] == 1e-3 and isinstance(training["minutes"], float)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sepunet-detector", {"pixbench.task": "detect", "pixbench.output": "probability"}),
        ("pix2pix-inpainter", {"pixbench.task": "inpaint", "pixbench.mask_input": "channel"}),
        ("sepunet-depixelator", {"pixbench.task": "depixelate", "pixbench.input": "full"}),
        ("grid-upscaler", {"pixbench.task": "depixelate", "pixbench.input": "lowres", "pixbench.scale": "4"}),
    ],
)
def test_task_specific_props(name, expected, tmp_path):
    spec = MODELS.get(name)
    args = spec.full_args(spec.tiny_args)
    props = export_model(spec.build(args), spec, tmp_path / "m.onnx", model_args=args).props
    assert expected.items() <= props.items()
    assert "pixbench.dataset_fingerprint" not in props  # an untrained export claims no dataset
    assert "pixbench.training" not in props


def test_dynamo_exporter_gives_the_same_outputs(tmp_path):
    spec = MODELS.get("espcn")
    args = spec.full_args(spec.tiny_args)
    torch.manual_seed(0)
    model = spec.build(args)
    report = export_model(model, spec, tmp_path / "dyn.onnx", model_args=args, exporter="dynamo")
    assert report.max_abs_diff <= 1e-4 and report.dynamic_hw
    assert [p.name for p in tmp_path.iterdir()] == ["dyn.onnx"]  # weights embedded, no .data file


def test_failed_parity_leaves_no_file(tmp_path):
    spec = MODELS.get("espcn")
    args = spec.full_args(spec.tiny_args)
    torch.manual_seed(0)
    # float32 onnxruntime and torch differ by ~1e-7 on this model (measured), so a zero
    # tolerance must fail, and the half-checked file must not be left behind
    with pytest.raises(ModelError, match=r"export parity: onnxruntime differs from torch by .* > tolerance 0"):
        export_model(spec.build(args), spec, tmp_path / "m.onnx", model_args=args, atol=0.0)
    assert list(tmp_path.iterdir()) == []


def test_export_errors(tmp_path):
    spec = MODELS.get("espcn")
    with pytest.raises(ModelError, match="expected a path ending in .onnx"):
        export_model(spec.build(), spec, tmp_path / "m.pt", model_args=spec.full_args())
    with pytest.raises(ModelError, match="--exporter 'jit'"):
        export_model(spec.build(), spec, tmp_path / "m.onnx", model_args=spec.full_args(), exporter="jit")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="checkpoint .*missing.pt: no such file"):
        export_checkpoint(tmp_path / "missing.pt", tmp_path / "m.onnx")


def test_export_command(espcn_run, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["export", str(espcn_run / "last.pt"), "-o", str(tmp_path / "e.onnx")])
    assert ok.exit_code == 0, ok.output
    assert "onnxruntime matches torch" in ok.output and (tmp_path / "e.onnx").is_file()
    bad = runner.invoke(app, ["export", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "x.onnx")])
    assert bad.exit_code == 1 and "no such file" in bad.output and "Traceback" not in bad.output


PUBLISHED = REPO_ROOT / "leaderboards" / "models"


@pytest.mark.parametrize(
    "published",
    [
        "depixelate-nearest-x4/espcn-x4.onnx",
        "depixelate-nearest-x4/sepunet-depixelator.onnx",
        "depixelate-lanczos-x4/sepunet-restorer.onnx",
        "detect/sepunet-detector.onnx",
        "detect/mobilenetv2-classifier.onnx",
        "blockcnn-triplets/blockcnn.onnx",
        "inpaint-2x75/pix2pix-inpainter.onnx",
    ],
)
def test_published_exports_carry_the_props_export_writes(published):
    # the published file's bytes again after its props are rewritten by model_props from what the
    # checkpoint gave export (task, dataset, recipe, training record): same keys, values and order
    data = (PUBLISHED / published).read_bytes()
    proto = onnx.load_from_string(data)
    props = {p.key: p.value for p in proto.metadata_props}
    spec = MODELS.get(props["pixbench.model"])
    args = spec.recorded_args(json.loads(props["pixbench.model_args"]))
    described = model_props(
        spec,
        spec.build(args),
        args,
        task=props["pixbench.task"],
        dataset_fingerprint=props["pixbench.dataset_fingerprint"],
        recipe=props["pixbench.recipe"],
        training=json.loads(props["pixbench.training"]),
    )
    described.write(proto, EXPORT_ORDER)
    assert proto.SerializeToString() == data
