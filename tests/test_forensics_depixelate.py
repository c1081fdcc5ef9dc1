"""The grid depixelator: the folded ONNX graph against the torch network, exact block means,
grid alignment in the numpy pipeline, the published files through `pixbench evaluate`."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch.nn import functional as TF

from pixbench.degradations.pixelate import pixelate, upscale
from pixbench.errors import ModelError
from pixbench.forensics import grid as G
from pixbench.forensics.depixelate import MODEL_DIR, Depixelator, choose_scale, depixelate, load_depixelators
from pixbench.forensics.upscaler_config import TIERS, UpscalerConfig
from pixbench.forensics.upscaler_onnx import build_depixelator_onnx, config_of, depixelator_props
from pixbench.models import MODELS
from pixbench.models.grid_upscaler import GridUpscaler
from pixbench.props import GRID_UPSCALER_ORDER
from tests.conftest import REPO_ROOT
from tests.synth import write_tiny_dataset

sys.path.insert(0, str(REPO_ROOT / "tools"))  # the training loop of the published graphs is a tool, not the package
from upscaler_training import train_upscaler  # noqa: E402


def _net(scale: int, **options) -> GridUpscaler:
    """The registry's ``grid-upscaler`` (fresh weights from the current torch seed)."""
    return MODELS.get("grid-upscaler").build({"scale": scale, **options})


def _image(h: int, w: int, seed: int = 0, lo: int = 0, hi: int = 256) -> np.ndarray:
    """Smooth-ish random colours (a blurred noise field), so blocks differ but neighbours correlate."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.random((1, 3, h, w), dtype=np.float32))
    x = TF.avg_pool2d(TF.pad(x, (2, 2, 2, 2), mode="reflect"), 5, stride=1)[0].permute(1, 2, 0).numpy()
    x = (x - x.min()) / (x.max() - x.min())
    return (lo + x * (hi - 1 - lo)).round().astype(np.uint8)


def _random_model(scale: int, seed: int = 0, **kw) -> GridUpscaler:
    torch.manual_seed(seed)
    model = _net(scale, channels=8, layers=1, **kw)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def _session(model: GridUpscaler, **kw) -> Depixelator:
    proto = build_depixelator_onnx(model, **kw)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return Depixelator(sess, model.scale, model.cell)


@pytest.mark.parametrize(("scale", "packing"), [(2, 0), (4, 0), (8, 0), (4, 2), (2, 4)])
def test_graph_equals_torch_network_rounded(scale, packing):
    model = _random_model(scale, packing=packing)
    clean = _image(48, 64, seed=scale)
    pix = pixelate(clean, factor=scale, down_kernel="box", up_kernel="nearest")
    low = torch.from_numpy(pix[::scale, ::scale].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ref = np.rint(model(low)[0].permute(1, 2, 0).numpy() * 255)
    out = _session(model).run(pix).astype(np.float64)
    # the graph rounds half up on float32 sums folded differently from torch's: ties may differ by 1
    assert np.abs(out - ref).max() <= 1
    assert (out != ref).mean() < 1e-3


@pytest.mark.parametrize(("scale", "packing"), [(2, 0), (4, 0), (8, 0), (4, 2)])
def test_untrained_graph_returns_the_mosaic_itself(scale, packing):
    # a fresh network predicts nothing, so the folded nearest base and back-projection must give
    # back exactly the pixelated input: this pins the channel orders of SpaceToDepth / DepthToSpace
    model = _net(scale, channels=4, layers=0, packing=packing)
    pix = pixelate(_image(40, 56, seed=1), factor=scale, down_kernel="box", up_kernel="nearest")
    np.testing.assert_array_equal(_session(model).run(pix), pix)


@pytest.mark.parametrize("read", ["mean", "sample"])
def test_block_means_match_the_low_res_grid(read):
    # no pixel near 0 or 255, so Clip never moves a block mean: each output block's mean is the
    # low-res value up to the rounding of the 16 pixels (|error| <= 0.5 per pixel, so <= 0.5 on the mean)
    model = _random_model(4, seed=3)
    clean = _image(64, 64, seed=2, lo=60, hi=200)
    pix = pixelate(clean, factor=4, down_kernel="box", up_kernel="nearest")
    out = _session(model, read=read).run(pix).astype(np.float64)
    means = out.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3))
    assert np.abs(means - pix[::4, ::4]).max() <= 0.5
    assert np.abs(out - pix).max() > 3  # the network did change the pixels


def test_training_keeps_block_means_and_lowers_the_loss():
    images = [_image(96, 96, seed=s) for s in range(3)]
    losses = []
    model = train_upscaler(
        images,
        UpscalerConfig(scale=4, channels=8, layers=1),
        steps=40,
        batch=4,
        size=32,
        progress=lambda phase, done, total, **v: losses.append((phase, done, total, v["loss"])),
    )
    assert [x[:3] for x in losses] == [("train x4", i + 1, 40) for i in range(40)]
    losses = [x[3] for x in losses]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    low = torch.rand(1, 3, 8, 8) * 0.6 + 0.2
    with torch.no_grad():
        out = model(low)
    torch.testing.assert_close(TF.avg_pool2d(out, 4), low, atol=1e-5, rtol=0)


def test_training_resumes_from_its_checkpoint_to_the_same_weights(tmp_path):
    images = [_image(96, 96, seed=s) for s in range(2)]
    cfg = UpscalerConfig(scale=4, channels=4, layers=1)
    kw = dict(steps=40, batch=2, size=32, mse_tail=0.25, checkpoint_every=15)
    whole = train_upscaler(images, cfg, checkpoint=tmp_path / "whole.pt", **kw)
    seen = []

    def stop_at_20(phase, done, total, **v):
        seen.append(done)
        if done == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_upscaler(images, cfg, checkpoint=tmp_path / "cut.pt", progress=stop_at_20, **kw)
    resumed = train_upscaler(
        images, cfg, checkpoint=tmp_path / "cut.pt", progress=lambda p, d, t, **v: seen.append(d), **kw
    )
    assert seen == [*range(1, 21), *range(16, 41)]  # the checkpoint of step 15 was the last one saved
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    with pytest.raises(ValueError, match="is of another run"):
        train_upscaler(images, cfg, checkpoint=tmp_path / "cut.pt", **{**kw, "steps": 60})


@pytest.mark.parametrize("packing", [0, 1, 2, 4])
def test_registered_network_and_config_agree_on_the_geometry(packing):
    # the torch-free UpscalerConfig (read back from the graphs on the core install) and the registry's
    # grid-upscaler each compute pack and cell: the two must agree at every factor
    for scale in range(2, 17):
        net = _net(scale, channels=1, layers=0, packing=packing)
        cfg = UpscalerConfig(scale=scale, channels=1, layers=0, packing=packing)
        assert (net.pack, net.cell) == (cfg.pack, cfg.cell)
        assert config_of(net) == cfg
    with pytest.raises(ModelError, match="grid-upscaler: packing must be 0"):
        _net(4, packing=3)
    with pytest.raises(ModelError, match="grid-upscaler: scale must be in 2..16, got 17"):
        _net(17)


@pytest.mark.parametrize(("scale", "h", "w"), [(2, 5, 7), (4, 9, 11), (2, 6, 8)])
def test_untrained_network_returns_the_mosaic_at_any_grid_size(scale, h, w):
    # packed networks (x2) edge-pad an odd grid to whole network pixels and cut the output back
    low = torch.rand(2, 3, h, w)
    with torch.no_grad():
        out = _net(scale, channels=4, layers=1)(low)
    torch.testing.assert_close(out, low.repeat_interleave(scale, 2).repeat_interleave(scale, 3), atol=1e-6, rtol=0)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="scale: expected an integer in 2..16, got 1"):
        UpscalerConfig(scale=1)
    with pytest.raises(ValueError, match="packing: expected 0"):
        UpscalerConfig(scale=4, packing=3)
    assert (UpscalerConfig(scale=2).cell, UpscalerConfig(scale=2).pack) == (4, 2)
    assert (UpscalerConfig(scale=8).cell, UpscalerConfig(scale=8).pack) == (8, 1)
    assert (UpscalerConfig(scale=4, packing=2).cell, UpscalerConfig(scale=4, packing=2).pack) == (8, 2)
    # automatic packing is not written into the graphs' pixbench.model_args (the published files predate it)
    assert UpscalerConfig(scale=4).as_dict() == {"scale": 4, "channels": 16, "layers": 2}
    assert UpscalerConfig(scale=4, packing=2).as_dict()["packing"] == 2


@pytest.mark.parametrize(("top", "left", "h", "w"), [(0, 0, 64, 64), (3, 1, 61, 70), (2, 0, 50, 45)])
def test_pipeline_aligns_any_grid_phase_and_size(top, left, h, w):
    # with the untrained graph the exact answer is the mosaic itself; a misaligned grid would
    # average across block borders and change pixels
    model = _net(4, channels=4, layers=0)
    big = pixelate(_image(72, 80, seed=4), factor=4, down_kernel="box", up_kernel="nearest")
    pix = np.ascontiguousarray(big[top : top + h, left : left + w])
    out, est, used = depixelate(pix, {4: _session(model)})
    assert used == 4 and est.kernel_family == "replicating"
    np.testing.assert_array_equal(out, pix)


def test_non_integer_blocks_go_through_the_recovered_grid():
    model = _net(4, channels=4, layers=0)
    low = _image(12, 12, seed=5)
    widths = np.tile([4, 5], 6)  # blocks of 4 and 5 pixels: factor 4.5
    pix = np.repeat(np.repeat(low, widths, axis=0), widths, axis=1)
    out, est, used = depixelate(pix, {4: _session(model), 8: _session(_net(8))})
    assert used == 4 and est.x.factor == pytest.approx(4.5)
    assert out.shape == pix.shape
    assert np.abs(out.astype(int) - pix).mean() < 12  # a resampled mosaic, close to the input


def test_choose_scale_is_nearest_on_a_log_scale():
    assert choose_scale(5.0, [2, 4, 8]) == 4  # |log 5/4| = 0.22 < |log 8/5| = 0.47
    assert choose_scale(6.0, [2, 4, 8]) == 8  # |log 8/6| = 0.29 < |log 6/4| = 0.41
    with pytest.raises(ModelError, match="no upscaler graphs"):
        choose_scale(4.0, [])


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelError, match=r"nope\.onnx does not exist; train it with"):
        Depixelator.load(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match=r"grid-detector\.onnx is not a grid upscaler graph"):
        Depixelator.load(MODEL_DIR / "grid-detector.onnx")
    with pytest.raises(ModelError, match=r"scale: no depixelator for factor 8; loaded: \[4\]"):
        depixelate(
            np.zeros((16, 16, 3), np.uint8),
            {4: None},
            grid=G.estimate_grid(np.zeros((16, 16, 3), np.uint8), probability=1.0),
            scale=8,
        )


# ---------------------------------------------------------------------------------------------
# The published files


@pytest.mark.parametrize(
    ("stem", "scale"),
    [
        ("grid-upscaler", 2),
        ("grid-upscaler", 4),
        ("grid-upscaler", 8),
        ("grid-upscaler-hq", 2),
        ("grid-upscaler-hq", 4),
    ],
)
def test_published_graph_metadata_and_size(stem, scale):
    path = MODEL_DIR / f"{stem}-x{scale}.onnx"
    assert path.stat().st_size < 2_000_000
    model = Depixelator.load(path)
    props = model.session.get_modelmeta().custom_metadata_map
    assert props["pixbench.input"] == "full" and props["pixbench.task"] == "depixelate"
    assert props["pixbench.model"] == f"{stem}-x{scale}"
    assert "pixbench.scale" not in props  # evaluate reads that key as a low-res model's upscale
    # the graph was built from the tier's published settings (pixbench.forensics.upscaler_config.TIERS)
    tier = {"grid-upscaler": "realtime", "grid-upscaler-hq": "quality"}[stem]
    assert json.loads(props["pixbench.model_args"]) == TIERS[tier][1][scale].config.as_dict()


@pytest.mark.parametrize(
    "stem", ["grid-upscaler-x2", "grid-upscaler-x4", "grid-upscaler-x8", "grid-upscaler-hq-x2", "grid-upscaler-hq-x4"]
)
def test_published_graph_props_are_what_the_writer_writes(stem):
    # the published file's bytes again after its props are rewritten through depixelator_props:
    # same keys, values and order (pixbench.props.GRID_UPSCALER_ORDER)
    data = (MODEL_DIR / f"{stem}.onnx").read_bytes()
    proto = onnx.load_from_string(data)
    cfg = UpscalerConfig(**json.loads({p.key: p.value for p in proto.metadata_props}["pixbench.model_args"]))
    depixelator_props(cfg, name=stem).write(proto, GRID_UPSCALER_ORDER)
    assert proto.SerializeToString() == data


def test_tiers_are_loaded_by_stem():
    hq = load_depixelators(scales=(4,), stem="grid-upscaler-hq")
    realtime = load_depixelators(scales=(4,))
    assert hq[4].scale == realtime[4].scale == 4 and hq[4].cell == realtime[4].cell == 4
    with pytest.raises(ModelError, match="grid-upscaler-hq-x8.onnx does not exist"):
        load_depixelators(scales=(8,), stem="grid-upscaler-hq")


def test_published_x4_through_pixbench_evaluate(tmp_path):
    from pixbench.evaluate import EvaluateOptions, evaluate

    ds = write_tiny_dataset(tmp_path / "ds", "depixelate", n=3, size=32, factor=4)
    doc = evaluate(
        MODEL_DIR / "grid-upscaler-x4.onnx", ds, tmp_path / "r.json", EvaluateOptions(lpips=False, speed=False)
    )
    assert doc["model"]["assumed"]["input"] == "full"
    assert doc["dataset"]["samples"] == 3 and doc["failures"]["count"] == 0
    assert doc["metrics"]["model"]["psnr"] > doc["metrics"]["degraded"]["psnr"]


def test_published_x4_beats_bicubic_on_kodak_photos(shared_datasets):
    # held-out photos (never used for training), 256x256 centre crops, x4 mosaic
    from pixbench.images import decode_image

    models = load_depixelators(scales=(4,))
    gains = []
    for name in ("kodim05", "kodim19", "kodim23"):
        clean = decode_image(shared_datasets / "kodak" / f"{name}.png")
        y, x = clean.shape[0] // 2 - 128, clean.shape[1] // 2 - 128
        clean = np.ascontiguousarray(clean[y : y + 256, x : x + 256])
        pix = pixelate(clean, factor=4, down_kernel="box", up_kernel="nearest")
        out, _, used = depixelate(pix, models)
        assert used == 4
        bicubic = upscale(np.ascontiguousarray(pix[::4, ::4]), size=(256, 256), kernel="bicubic")

        def psnr(a, clean=clean):
            return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - clean) ** 2))

        gains.append((psnr(out) - psnr(pix), psnr(out) - psnr(bicubic)))
    over_input, over_bicubic = np.mean(gains, axis=0)
    # measured with the published x4 file: +1.23 dB over the mosaic, +0.48 dB over bicubic (mean of 3)
    assert over_input > 0.8
    assert over_bicubic > 0.15


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_macs_count_every_weight_once_per_network_pixel(scale):
    # a stride-1 'same' convolution does one multiply-accumulate per weight per output position,
    # so the graph's MACs are (sum of conv weight sizes) x (network pixels)
    model = _net(scale, channels=8, layers=2)
    proto = build_depixelator_onnx(model)
    weights = sum(int(np.prod(t.dims)) for t in proto.graph.initializer if t.name.endswith(".w"))
    cell = model.cell
    assert config_of(model).macs(1080, 1920) == weights * (1080 // cell) * (1920 // cell)
    # hand count for x4, 16 channels, 2 hidden layers (19 = 16 features + 3 carried):
    # 9*3*19 + 2*9*19*19 + 19*48 = 7923 per cell, 270*480 cells
    assert UpscalerConfig(scale=4, channels=16, layers=2).macs() == 7923 * 270 * 480
