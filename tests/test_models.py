"""Registry-wide model checks: forward, backward, no NaN, ONNX export with parity, size budget."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch.nn import functional as F
from torchvision.models import mobilenet_v2

from pixbench.errors import ModelError, WeightsNotFoundError
from pixbench.export import PARITY_ATOL, export_model
from pixbench.models import MODELS
from pixbench.registry import UnknownNameError

# (C, H, W) of a tiny input per input kind; odd sizes check the U-Nets' any-size path.
TINY_INPUT = {"full": (3, 45, 67), "masked": (4, 75, 99), "lowres": (3, 9, 11), "triplet": (3, 24, 24)}


def _expected_shape(spec, model, n: int) -> tuple[int, ...]:
    c, h, w = TINY_INPUT[spec.input_kind]
    if spec.output == "logit":
        return (n, 1)
    if spec.output == "mask":
        return (n, 1, h, w)
    if spec.input_kind == "lowres":
        return (n, 3, h * model.scale, w * model.scale)
    if spec.input_kind == "triplet":
        return (n, 3, 8, 8)
    return (n, 3, h, w)


@pytest.mark.parametrize("name", MODELS.names())
def test_forward_backward_no_nan(name):
    spec = MODELS.get(name)
    torch.manual_seed(0)
    model = spec.build(spec.tiny_args).train()
    x = torch.rand(2, *TINY_INPUT[spec.input_kind])
    y = model(x)
    assert y.shape == _expected_shape(spec, model, 2)
    assert torch.isfinite(y).all()
    if spec.output == "image":
        assert 0.0 <= float(y.detach().min()) and float(y.detach().max()) <= 1.0
    # a random weighting of the outputs, not their plain mean: grid-upscaler's output keeps the block means
    # of its input whatever its weights, so the mean alone has a zero gradient by design
    (y.float() * torch.rand_like(y.float())).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name", MODELS.names())
def test_export_parity_and_size_budget(name, tmp_path):
    """The model at its *default* size exports to one file under its budget, and onnxruntime agrees."""
    spec = MODELS.get(name)
    torch.manual_seed(0)
    args = spec.full_args()
    model = spec.build(args)
    report = export_model(model, spec, tmp_path / f"{name}.onnx", model_args=args)
    assert report.max_abs_diff <= PARITY_ATOL
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.onnx"]  # single file, no .data, no temp left
    assert report.size_mb <= spec.size_budget_mb
    proto = onnx.load(str(report.path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["pixbench.model"] == name and props["pixbench.layout"] == "nchw" and props["pixbench.range"] == "01"
    assert report.dynamic_hw == (spec.fixed_hw is None)
    # a second, independent run at another size: dynamic dims really are dynamic
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    x = torch.rand(3, *TINY_INPUT[spec.input_kind])
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = model.eval()(x)
    if spec.output in ("logit", "mask"):
        want = torch.sigmoid(want)  # exported detectors and segmenters declare pixbench.output=probability
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got, want.numpy(), atol=PARITY_ATOL, rtol=0)


def test_detector_under_10mb_and_param_counts():
    # ESPCN parameters by hand: conv5x5 3*16*25+16 = 1216, conv3x3 16*16*9+16 = 2320,
    # conv2x2 16*16*4+16 = 1040, attention 1x1 16*16+16 = 272, sub-pixel 16*48*9+48 = 6960 -> 11808
    assert sum(p.numel() for p in MODELS.get("espcn").build().parameters()) == 11808
    detector = MODELS.get("sepunet-detector").build()
    assert sum(p.numel() for p in detector.parameters()) * 4 / 1e6 < 10.0  # float32 bytes, the paper's bound


def test_espcn_scale_and_blockcnn_shapes():
    esp = MODELS.get("espcn").build({"scale": 8, "channels": 4})
    assert esp(torch.rand(1, 3, 5, 7)).shape == (1, 3, 40, 56)
    block = MODELS.get("blockcnn").build({"channels": 4, "blocks": 1}).eval()
    x = torch.rand(4, 3, 24, 24)
    assert block(x).shape == (4, 3, 8, 8)
    # with a zero tail the model returns the input's centre block unchanged (residual design)
    torch.nn.init.zeros_(block.tail[-1].weight)
    torch.nn.init.zeros_(block.tail[-1].bias)
    torch.testing.assert_close(block(x), x[:, :, 8:16, 8:16])


def test_inpainter_keeps_known_pixels():
    gen = MODELS.get("pix2pix-inpainter").build({"width": 4, "depth": 3, "max_width": 8}).eval()
    image = torch.rand(1, 3, 40, 40)
    mask = torch.zeros(1, 1, 40, 40)
    mask[..., 10:20, 10:20] = 1
    out = gen(torch.cat([image * (1 - mask), mask], 1))
    known = mask.expand_as(image) == 0
    torch.testing.assert_close(out[known], image[known])


def test_registry_errors():
    with pytest.raises(UnknownNameError, match="did you mean 'espcn'"):
        MODELS.get("espnc")
    with pytest.raises(ModelError, match="no option 'widht'"):
        MODELS.get("sepunet-detector").build({"widht": 3})
    with pytest.raises(ModelError, match="scale must be in 2..32, got 1"):
        MODELS.get("espcn").build({"scale": 1})


def test_mobilenet_pretrained_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(WeightsNotFoundError, match="mobilenet_v2-b0353104.pth.*copy the file to"):
        MODELS.get("mobilenetv2-classifier").build({"pretrained": True})
    with pytest.raises(WeightsNotFoundError, match="--weights-path .*nope.pth: no such file"):
        MODELS.get("mobilenetv2-classifier").build({"pretrained": True, "weights_path": str(tmp_path / "nope.pth")})


def test_mobilenet_pretrained_loads_given_weights_strictly(tmp_path, monkeypatch):
    torch.manual_seed(1)
    reference = mobilenet_v2(weights=None)
    state = reference.state_dict()
    cache = tmp_path / "torch" / "hub" / "checkpoints"  # torch.hub.get_dir() is $TORCH_HOME/hub
    cache.mkdir(parents=True)
    torch.save(state, cache / "mobilenet_v2-b0353104.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    model = MODELS.get("mobilenetv2-classifier").build({"pretrained": True, "freeze_depth": 5})
    torch.testing.assert_close(model.features.state_dict(), reference.features.state_dict())
    assert not any(p.requires_grad for p in model.features[:5].parameters())
    assert all(p.requires_grad for p in model.features[5:].parameters())
    # a file missing one feature tensor is refused, not half-loaded
    broken = {k: v for k, v in state.items() if k != "features.3.conv.1.0.weight"}
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(ModelError, match="not MobileNetV2 .*weights"):
        MODELS.get("mobilenetv2-classifier").build({"pretrained": True, "weights_path": str(tmp_path / "broken.pth")})


@pytest.mark.parametrize("name", ["sepunet-detector", "sepunet-depixelator"])
def test_unshuffle_speed_option_exports_at_odd_sizes(name, tmp_path):
    """The PixelUnshuffle option pads to a multiple of r; onnxruntime must agree on a 45x67 frame."""
    spec = MODELS.get(name)
    args = spec.full_args({"width": 4, "max_width": 8, "unshuffle": 4})
    torch.manual_seed(0)
    model = spec.build(args).eval()
    path = export_model(model, spec, tmp_path / "m.onnx", model_args=args).path
    x = torch.rand(1, 3, 45, 67)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = model(x)
    want = torch.sigmoid(want) if spec.output == "logit" else want
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got, want.numpy(), atol=PARITY_ATOL, rtol=0)


@pytest.mark.parametrize(("name", "last"), [("sepunet-depixelator", "translate_out"), ("sepunet-restorer", "out")])
def test_residual_restorers_start_from_the_identity(name, last):
    """With ``residual=True`` the last layer starts at zero, so the output is the input itself (no sigmoid warp)."""
    spec = MODELS.get(name)
    model = spec.build({**spec.tiny_args, "residual": True}).eval()
    with torch.no_grad():
        x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
        assert torch.equal(model(x), x)
        # without the option, the same zeroed layer gives sigmoid(x) (or 0.5), not x
        plain = spec.build(spec.tiny_args).eval()
        for param in getattr(plain, last).parameters():
            param.zero_()
        assert not torch.allclose(plain(x), x, atol=1e-2)


@pytest.mark.parametrize("name", ["sepunet-depixelator", "sepunet-restorer"])
def test_grid_base_is_bicubic_of_the_block_means_and_exports(name, tmp_path):
    """``grid=4`` starts at bicubic-x4 of a mosaic: on a nearest-upscaled 8x12 image it equals torch's bicubic of it."""
    spec = MODELS.get(name)
    args = spec.full_args({**spec.tiny_args, "residual": True, "grid": 4})
    model = spec.build(args).eval()
    low = torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(1))
    mosaic = low.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)  # 32x48, nearest x4
    with torch.no_grad():
        want = F.interpolate(low, scale_factor=4.0, mode="bicubic", align_corners=False).clamp(0, 1)
        assert torch.allclose(model(mosaic), want, atol=1e-6)
        # an odd-sized frame is padded to the grid and cropped back; onnxruntime agrees with torch
        path = export_model(model, spec, tmp_path / "m.onnx", model_args=args, task="depixelate").path
        x = torch.rand(1, 3, 45, 67, generator=torch.Generator().manual_seed(2))
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
        np.testing.assert_allclose(got, model(x).numpy(), atol=PARITY_ATOL, rtol=0)


def test_grid_needs_residual_and_a_block_size():
    spec = MODELS.get("sepunet-depixelator")
    with pytest.raises(ModelError, match="pass residual=true"):
        spec.build({"grid": 4})
    with pytest.raises(ModelError, match="block size in 2..16"):
        spec.build({"grid": 1, "residual": True})


def test_blockcnn_unshuffle_keeps_the_contract_and_exports(tmp_path):
    """``unshuffle=2``: still 24x24 -> the centre 8x8, still a correction of the centre, and ONNX agrees."""
    spec = MODELS.get("blockcnn")
    args = spec.full_args({"channels": 8, "blocks": 1, "unshuffle": 2})
    model = spec.build(args).eval()
    x = torch.rand(5, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model(x)
        assert out.shape == (5, 3, 8, 8)
        model.tail[-1].weight.zero_()
        model.tail[-1].bias.zero_()
        assert torch.equal(model(x), x[:, :, 8:16, 8:16])
    path = export_model(model, spec, tmp_path / "b.onnx", model_args=args).path
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=PARITY_ATOL, rtol=0)
    with pytest.raises(ModelError, match="unshuffle must divide"):
        spec.build({"unshuffle": 3})


def test_inpainter_fill_starts_at_the_pyramid_fill_and_exports(tmp_path):
    """``fill=True``: untrained, the output is the push-pull fill (a smooth ramp is filled near-exactly), ONNX agrees."""
    from pixbench.models.pix2pix_inpainter import pyramid_fill

    spec = MODELS.get("pix2pix-inpainter")
    args = spec.full_args({**spec.tiny_args, "fill": True})
    model = spec.build(args).eval()
    ramp = torch.linspace(0.2, 0.8, 90).repeat(3, 70, 1)[None]  # 70x90, brightness rising to the right
    mask = torch.zeros(1, 1, 70, 90)
    mask[..., 20:45, 30:60] = 1.0
    holed = torch.cat([ramp * (1 - mask), mask], dim=1)
    with torch.no_grad():
        out = model(holed)
        assert torch.equal(out, pyramid_fill(ramp * (1 - mask), 1 - mask).clamp(0, 1))
        assert torch.equal(out * (1 - mask), ramp * (1 - mask))  # known pixels kept
        # the hole of a ramp gets values between its left and right edges, not black (before the fill: 0)
        inside = out[..., 20:45, 30:60]
        assert inside.min() > 0.3 and inside.max() < 0.7
        assert (inside - ramp[..., 20:45, 30:60]).abs().mean() < 0.05
    path = export_model(model, spec, tmp_path / "p.onnx", model_args=args).path
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": holed.numpy()})[0]
    np.testing.assert_allclose(got, out.numpy(), atol=PARITY_ATOL, rtol=0)


def test_grid_upscaler_keeps_block_means_and_exports_packed(tmp_path):
    # x2 packs 2x2 grid pixels into one network pixel; odd grids are edge-padded inside the graph
    spec = MODELS.get("grid-upscaler")
    args = spec.full_args({"scale": 2, "channels": 8, "layers": 1})
    torch.manual_seed(0)
    model = spec.build(args)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    report = export_model(model, spec, tmp_path / "g.onnx", model_args=args)
    assert report.props["pixbench.scale"] == "2" and report.props["pixbench.input"] == "lowres"
    low = torch.rand(1, 3, 7, 9) * 0.5 + 0.25  # away from 0 and 1, so the clamp moves no block mean
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    out = torch.from_numpy(session.run(None, {"input": low.numpy()})[0])
    assert out.shape == (1, 3, 14, 18)
    with torch.no_grad():
        assert float((out - model(low)).abs().max()) <= PARITY_ATOL
        assert float((model(low) - F.interpolate(low, scale_factor=2.0)).abs().max()) > 1e-3  # it does change pixels
    torch.testing.assert_close(F.avg_pool2d(out, 2), low, atol=1e-5, rtol=0)
