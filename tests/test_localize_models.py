"""The localize models: the segmenter's shapes, export and training; the grid localizer and flatness graphs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import skimage.data
import torch

from pixbench.baselines import write_baseline
from pixbench.errors import ModelError
from pixbench.export import export_model
from pixbench.forensics.grid_localizer import LocalizerSettings, build_localizer_onnx, localize_cells
from pixbench.models import MODELS
from pixbench.train import TrainSettings, train_model
from pixbench.train.losses import MaskLoss
from pixbench.train.validate import pixel_overlap
from tests.synth import write_tiny_dataset

SPEC = MODELS.get("sepunet-segmenter")


def _mosaic(image: np.ndarray, y0: int, x0: int, side: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with a box-mean mosaic of ``block`` px cells over a square, and the square's mask."""
    out = image.copy()
    cells = out[y0 : y0 + side, x0 : x0 + side].astype(np.float64)
    cells = cells.reshape(side // block, block, side // block, block, 3).mean((1, 3)).round().astype(np.uint8)
    out[y0 : y0 + side, x0 : x0 + side] = np.repeat(np.repeat(cells, block, 0), block, 1)
    mask = np.zeros(image.shape[:2], bool)
    mask[y0 : y0 + side, x0 : x0 + side] = True
    return out, mask


@pytest.mark.parametrize("hw", [(16, 16), (45, 67), (64, 96)])
def test_segmenter_gives_one_logit_per_pixel_at_any_size(hw):
    torch.manual_seed(0)
    model = SPEC.build().eval()  # default: 8x8 patches, so 45x67 has a partial patch on two sides
    with torch.no_grad():
        y = model(torch.rand(2, 3, *hw))
    assert y.shape == (2, 1, *hw)
    # the rows past the last whole patch repeat the last whole row of logits
    if hw[0] % 8:
        last = hw[0] // 8 * 8 - 1
        assert torch.equal(y[:, :, -1], y[:, :, last])


def test_segmenter_is_small():
    # parameters counted by torch at the defaults (width 16, max_width 64, depth 4, unshuffle 8)
    assert sum(p.numel() for p in SPEC.build().parameters()) == 30960
    with pytest.raises(ModelError, match="unshuffle must be in 1..16, got 32"):
        SPEC.build({"unshuffle": 32})


def test_edge_maps_mark_runs_of_equal_pixels_and_their_ends():
    from pixbench.models.sepunet_segmenter import edge_maps

    row = torch.tensor([10, 10, 10, 50, 50, 52], dtype=torch.float32) / 255.0
    x = row.view(1, 1, 1, 6).expand(1, 3, 2, 6)  # two equal rows, equal in all three channels
    maps = edge_maps(x)[0]
    dx, dy, zx, zy = maps[0, 0], maps[1, 0], maps[2, 0], maps[3, 0]
    np.testing.assert_allclose(dx.numpy() * 255, [0, 0, 40, 0, 2, 0], atol=1e-4)
    # closeness to zero: 1 for equal neighbours, 1 - 2/4 for a step of 2 levels, 0 from 4 levels up
    np.testing.assert_allclose(zx.numpy(), [1, 1, 0, 1, 0.5, 1], atol=1e-4)
    assert torch.equal(dy, torch.zeros(6)) and torch.equal(zy, torch.ones(6))


def test_edges_option_is_late_and_changes_the_stem():
    assert "edges" not in SPEC.recorded_args({})  # earlier files keep their recorded arguments
    assert SPEC.recorded_args({"edges": True})["edges"] is True
    model = SPEC.build({"edges": True})
    assert model.stem[0].in_channels == 7  # RGB and the four edge maps
    assert sum(p.numel() for p in model.parameters()) == 30960 + 4 * 16 * 8 * 8


@pytest.mark.parametrize("edges", [False, True])
def test_segmenter_export_round_trip(tmp_path, edges):
    torch.manual_seed(0)
    args = SPEC.full_args({**SPEC.tiny_args, "edges": edges})
    model = SPEC.build(args)
    report = export_model(model, SPEC, tmp_path / "seg.onnx", model_args=args)
    props = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    assert props["pixbench.task"] == "localize" and props["pixbench.output"] == "probability"
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 3, 37, 53)
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = torch.sigmoid(model.eval()(x)).numpy()
    assert got.shape == (1, 1, 37, 53)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert 0.0 <= got.min() and got.max() <= 1.0


def test_grid_localizer_lights_up_on_a_mosaic_and_stays_dark_on_a_clean_photo():
    photo = skimage.data.astronaut()  # 512x512, scikit-image's bundled photo
    mosaic, mask = _mosaic(photo, 96, 128, 128, 8)
    inside = (localize_cells(mosaic)[mask] >= 0.5).mean()
    # measured with the default settings: 98.4% of the square is found
    assert inside >= 0.95
    clean = localize_cells(skimage.data.chelsea())  # 300x451: the sizes are not multiples of a cell
    assert clean.shape == (300, 451)
    # measured: 0.21% of the clean photo scores >= 0.5 (a few cells on its flat background)
    assert (clean >= 0.5).mean() <= 0.01
    assert (localize_cells(mosaic)[~mask] >= 0.5).mean() <= 0.1


def test_grid_localizer_graph_declares_localize_and_its_settings_matter():
    props = {p.key: p.value for p in build_localizer_onnx().metadata_props}
    assert props == {
        "pixbench.task": "localize",
        "pixbench.layout": "nchw",
        "pixbench.range": "255",
        "pixbench.channels": "rgb",
        "pixbench.output": "probability",
        "pixbench.model": "grid-localizer",
        "pixbench.version": props["pixbench.version"],
    }
    mosaic, mask = _mosaic(skimage.data.astronaut(), 96, 128, 128, 8)
    # an edge threshold above any step of the image finds no block boundary, so nothing lights up
    assert (localize_cells(mosaic, LocalizerSettings(edge_tol=800.0)) >= 0.5).sum() == 0


def test_flatness_and_grid_localizer_baselines_run_through_onnxruntime(tmp_path):
    mosaic, mask = _mosaic(skimage.data.astronaut(), 96, 128, 128, 8)
    x = mosaic.transpose(2, 0, 1)[None].astype(np.float32)
    for name, scale in (("flatness", 1 / 255), ("grid-localizer", 1.0)):
        path = write_baseline(name, tmp_path / f"{name}.onnx")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        p = session.run(None, {session.get_inputs()[0].name: x * scale})[0]
        assert p.shape == (1, 1, 512, 512)
        assert (p[0, 0][mask] >= 0.5).mean() >= 0.95  # a mosaic without JPEG has exact zeros: both find it
    flat = ort.InferenceSession(str(tmp_path / "flatness.onnx")).run(None, {"x": np.zeros((1, 3, 20, 30), np.float32)})
    np.testing.assert_array_equal(flat[0], np.ones((1, 1, 20, 30), np.float32))  # an all-flat image is all 1


def test_pixel_overlap_counts_empty_against_empty_as_perfect():
    truth = np.zeros((4, 4), bool)
    assert pixel_overlap(truth, np.zeros((4, 4), np.float32)) == {"iou": 1.0, "f1": 1.0}
    truth[:2] = True  # 8 true pixels; the prediction finds 4 of them and 4 others
    pred = np.zeros((4, 4), np.float32)
    pred[1:3] = 0.9
    # IoU 4 / 12, F1 2 * 4 / (8 + 8), by hand
    assert pixel_overlap(truth, pred) == {"iou": pytest.approx(1 / 3), "f1": pytest.approx(0.5)}


def test_mask_loss_is_bce_plus_soft_dice():
    logits, target = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    # BCE of p = 0.5 is ln 2; Dice = (2 * 0.5 + 1) / (2 + 1 + 1) = 0.5 with smooth = 1
    assert float(MaskLoss()(logits, target)) == pytest.approx(np.log(2) + 0.5)
    assert float(MaskLoss(dice_weight=0)(logits, target)) == pytest.approx(np.log(2))


def test_tiny_segmenter_trains_and_validates_with_iou(tmp_path):
    data = write_tiny_dataset(tmp_path / "ds", "localize", n=4, size=32)
    result = train_model(
        "sepunet-segmenter",
        data,
        tmp_path / "run",
        model_args=SPEC.tiny_args,
        settings=TrainSettings(epochs=3, batch_size=2, crop=32, lr=5e-3),
    )
    csv = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert result.best_metric == "iou" and list(csv["epoch"]) == [1, 2, 3]
    assert ((csv["iou"] >= 0) & (csv["iou"] <= 1)).all() and ((csv["f1"] >= 0) & (csv["f1"] <= 1)).all()
    assert csv["train_loss"].iloc[-1] < csv["train_loss"].iloc[0]  # three epochs of a few steps already learn
