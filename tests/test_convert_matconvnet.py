"""The shared part of the third-party converters (tools/convert_matconvnet.py): the graph and its checks.

The graph is checked against a plain numpy evaluation of the same conv stack, written here from
the definition of MatConvNet's ``vl_nnconv`` (a cross-correlation of ``kh x kw x in x out``
filters, zero padding), independently of the ONNX code.
"""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime as ort
import pytest

from pixbench.errors import ModelError
from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))  # the converters are tools, not the package
from convert_matconvnet import (  # noqa: E402
    OPSET,
    from_matconvnet,
    pinned_source,
    residual_graph,
)


def correlate(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``vl_nnconv(x, w, b, 'Pad', k//2)``: ``x`` is ``H x W x in``, ``w`` is ``kh x kw x in x out`` (MATLAB order)."""
    kh, kw = w.shape[:2]
    xp = np.pad(x.astype(np.float64), ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    h, wd = x.shape[:2]
    out = np.zeros((h, wd, w.shape[3])) + b.reshape(-1)
    for dy in range(kh):
        for dx in range(kw):
            out += xp[dy : dy + h, dx : dx + wd, :] @ w[dy, dx].astype(np.float64)
    return out


def reference_stack(
    image: np.ndarray, filters: list[np.ndarray], biases: list[np.ndarray], *, subtract: bool, studio: bool = False
) -> np.ndarray:
    """The network on an ``H x W`` image: convolutions with ReLUs between, then ``x - f(x)`` or ``x + f(x)``.

    ``studio``: ``image`` is full-range luma in [0, 1]; the network sees it in BT.601 studio range,
    ``(16 + 219 * Y) / 255`` with ``Y`` in [0, 1] (as MATLAB's rgb2ycbcr gives), and its result is mapped back.
    """
    x0 = (16 + 219 * image.astype(np.float64)) / 255 if studio else image.astype(np.float64)
    x = x0[..., None]
    for i, (w, b) in enumerate(zip(filters, biases)):
        x = correlate(x, w if w.ndim == 4 else w[..., None], b)
        if i < len(filters) - 1:
            x = np.maximum(x, 0.0)
    out = x0 - x[..., 0] if subtract else x0 + x[..., 0]
    return (255 * out - 16) / 219 if studio else out


def random_stack(seed: int, widths: tuple[int, ...] = (1, 4, 4, 1)) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """MATLAB-order filters of a small stack; the last one drops its trailing singleton, as MATLAB saves it."""
    rng = np.random.default_rng(seed)
    filters = [rng.normal(0, 0.3, (3, 3, cin, cout)).astype(np.float32) for cin, cout in zip(widths, widths[1:])]
    filters[-1] = filters[-1][..., 0]
    biases = [rng.normal(0, 0.1, (cout, 1)).astype(np.float32) for cout in widths[1:]]
    return filters, biases


def run_graph(graph, image: np.ndarray) -> np.ndarray:
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": image[None, None].astype(np.float32)})[0][0, 0]


@pytest.mark.parametrize(("subtract", "studio"), [(True, False), (False, False), (True, True), (False, True)])
def test_graph_matches_numpy_reference(subtract: bool, studio: bool) -> None:
    filters, biases = random_stack(1)
    image = np.random.default_rng(2).random((9, 13)).astype(np.float32)  # odd, non-square: any size is taken
    layers = [from_matconvnet(w, b) for w, b in zip(filters, biases)]
    got = run_graph(residual_graph(layers, subtract=subtract, name="t", studio_luma=studio), image)
    want = reference_stack(image, filters, biases, subtract=subtract, studio=studio)
    assert got.shape == (9, 13)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_filter_orientation_is_matlab_rows_then_columns() -> None:
    # One 3x3 filter whose only tap is w(1, 2) in MATLAB's 1-based (row, column): the tap above the
    # centre. A cross-correlation reads x(y - 1, x), so the output is the image moved down one row,
    # with the zero padding in the first row; VDSR's "+" adds the image itself.
    w = np.zeros((3, 3, 1), np.float32)
    w[0, 1, 0] = 1.0
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = run_graph(residual_graph([from_matconvnet(w, np.zeros(1))], subtract=False, name="t"), image)
    moved = np.vstack([np.zeros((1, 4)), image[:-1]])
    np.testing.assert_array_equal(got, image + moved)


def test_studio_luma_maps_the_range_and_back() -> None:
    # A network whose last layer is all zeros returns its input: with the studio mapping the graph
    # is then the identity, and full-range 0 and 1 reach the network as 16/255 and 235/255.
    zero = np.zeros((3, 3, 1), np.float32)
    image = np.array([[0.0, 0.25, 1.0]], np.float32)
    graph = residual_graph([from_matconvnet(zero, np.zeros(1))], subtract=True, name="t", studio_luma=True)
    np.testing.assert_allclose(run_graph(graph, image), image, atol=1e-6)
    bias_one = residual_graph([from_matconvnet(zero, -np.ones(1))], subtract=True, name="t", studio_luma=True)
    # x_studio - (-1) = x_studio + 1, mapped back: y + 255/219
    np.testing.assert_allclose(run_graph(bias_one, image), image + 255 / 219, atol=1e-6)


def test_stack_refusals() -> None:
    filters, biases = random_stack(3)
    layers = [from_matconvnet(w, b) for w, b in zip(filters, biases)]
    with pytest.raises(ModelError, match=r"t: layer 2 has filters 4x1x3x3 .* expected 4 input channels"):
        residual_graph([layers[0], from_matconvnet(np.zeros((3, 3, 1, 4)), np.zeros(4))], subtract=True, name="t")
    with pytest.raises(ModelError, match=r"t: the last layer has 4 outputs, expected 1"):
        residual_graph(layers[:2], subtract=True, name="t")
    with pytest.raises(ModelError, match=r"t: no convolution layers found"):
        residual_graph([], subtract=True, name="t")
    with pytest.raises(ModelError, match=r"filters \(3, 3, 1, 4\) have 4 outputs but the bias has 2 values"):
        from_matconvnet(np.zeros((3, 3, 1, 4)), np.zeros(2))
    with pytest.raises(ModelError, match=r"expected kh x kw x in x out filters, got shape \(3, 3\)"):
        from_matconvnet(np.zeros((3, 3)), np.zeros(1))


def test_pinned_source(tmp_path) -> None:
    weights = tmp_path / "w.mat"
    weights.write_bytes(b"abc")
    # sha256(b"abc"), the FIPS 180-2 test vector
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    source = {"repository": "https://example.org/r", "commit": "c0ffee", "path": "w.mat", "sha256": abc}
    assert pinned_source(weights, source, any_file=False) == source
    other = {**source, "sha256": "0" * 64}
    with pytest.raises(ModelError, match=r"SHA-256 ba7816bf8f01\.\.\. is not the published w\.mat .* --any-file"):
        pinned_source(weights, other, any_file=False)
    assert pinned_source(weights, other, any_file=True) == {**source, "commit": "unknown", "path": str(weights)}
    with pytest.raises(ModelError, match=r"missing\.mat: no such file"):
        pinned_source(tmp_path / "missing.mat", source, any_file=True)
