"""LPIPS: missing weights are an error, present weights are loaded, inputs are scaled to [-1, 1]."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from pixbench.errors import WeightsNotFoundError
from pixbench.metrics import LPIPS
from pixbench.metrics.perceptual import backbone_weights


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


@pytest.fixture
def fake_alexnet(torch_home):
    """A torchvision AlexNet state dict with seeded random weights, saved where the hub cache expects it."""
    torch.manual_seed(0)
    state = torchvision.models.alexnet().state_dict()
    path = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path, state


def images():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_missing_weights_name_the_file(torch_home):
    expected = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert backbone_weights("alex")[0] == expected
    with pytest.raises(WeightsNotFoundError, match=str(expected).replace(".", r"\.")):
        LPIPS()
    with pytest.raises(WeightsNotFoundError, match=r"weights_path='/nowhere/alex\.pth'"):
        LPIPS(weights_path="/nowhere/alex.pth")


@pytest.mark.filterwarnings("ignore::UserWarning")  # torchvision deprecations inside lpips (reference only)
def test_present_weights_are_loaded_and_match_lpips_itself(fake_alexnet):
    path, state = fake_alexnet
    metric = LPIPS()
    assert metric.weights_path == path
    # The backbone holds the file's tensors, not a random initialisation.
    assert torch.equal(metric.model.net.slice1[0].weight, state["features.0.weight"])
    assert torch.equal(getattr(metric.model.net.slice5, "10").bias, state["features.10.bias"])
    a, b = images()
    # Reference: the lpips package loading the same hub-cache file itself, fed [-1, 1] tensors by hand.
    import lpips

    ref_model = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        want = float(ref_model(ta, tb))
    got = metric(a, b)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    assert got > 0
    assert metric(a, a) == pytest.approx(0.0, abs=1e-7)
    # Float input in [0, 1] with data_range=1 is the same image.
    assert metric(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(got, rel=1e-5)
    with pytest.raises(ValueError, match="data_range is required"):
        metric(a / 255.0, b / 255.0)


def test_weights_path_and_wrong_file(fake_alexnet, tmp_path):
    path, _ = fake_alexnet
    assert LPIPS(weights_path=path).weights_path == path
    bad = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsNotFoundError, match="is not a torchvision alex state dict|does not fit"):
        LPIPS(weights_path=bad)
