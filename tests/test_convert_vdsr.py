"""tools/convert_vdsr.py on a small synthetic MATLAB 5 file laid out as the published VDSR_Official.mat.

The file holds a ``model`` struct with ``weight`` and ``bias`` cells (1 x layers), filters in
MatConvNet's ``kh x kw x in x out`` order, the last without its trailing singleton (as MATLAB
saves it); the converted graph is compared with the numpy reference of ``test_convert_matconvnet.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from scipy.io import savemat

from pixbench.errors import ModelError
from tests.conftest import REPO_ROOT
from tests.test_convert_matconvnet import random_stack, reference_stack

sys.path.insert(0, str(REPO_ROOT / "tools"))  # the converters are tools, not the package
import convert_vdsr  # noqa: E402


def _cells(arrays: list[np.ndarray]) -> np.ndarray:
    cell = np.empty((1, len(arrays)), dtype=object)
    for i, array in enumerate(arrays):
        cell[0, i] = array
    return cell


def test_converts_to_one_sr_file(tmp_path) -> None:
    filters, biases = random_stack(11, widths=(1, 6, 3, 1))
    mat = tmp_path / "VDSR_Official.mat"
    savemat(mat, {"model": {"weight": _cells(filters), "bias": _cells(biases)}})
    path = tmp_path / "out/sr-bicubic/vdsr.onnx"
    assert list(convert_vdsr.convert(mat, tmp_path / "out")) == [path]
    image = np.random.default_rng(12).random((8, 15)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": image[None, None]})[0][0, 0]
    # VDSR: the input plus the network, on studio-range luma
    want = reference_stack(image, filters, biases, subtract=False, studio=True)
    np.testing.assert_allclose(got, want, atol=1e-5)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert (props["pixbench.task"], props["pixbench.input"], props["pixbench.model"]) == ("sr-bicubic", "full", "vdsr")
    assert props["source.path"] == "Test/VDSR_Official.mat" and "not redistributed" in props["source.licence"]
    assert props["conversion.luma"] == "studio"


def test_refuses_a_file_without_the_model_struct(tmp_path) -> None:
    mat = tmp_path / "other.mat"
    savemat(mat, {"net": np.zeros(3)})
    with pytest.raises(ModelError, match=r"other\.mat: no model\.weight and model\.bias"):
        convert_vdsr.read_layers(mat)
    mat.write_bytes(b"not a mat file at all")
    with pytest.raises(ModelError, match=r"other\.mat: not a MATLAB 5 file scipy can read"):
        convert_vdsr.read_layers(mat)


def test_refuses_unequal_cells(tmp_path) -> None:
    filters, biases = random_stack(13)
    mat = tmp_path / "short.mat"
    savemat(mat, {"model": {"weight": _cells(filters), "bias": _cells(biases[:2])}})
    with pytest.raises(ModelError, match=r"3 weight arrays but 2 bias arrays"):
        convert_vdsr.read_layers(mat)


def test_same_weights_convert_to_the_same_bytes(tmp_path) -> None:
    # A result names the converted model by its SHA-256 only (the file is not redistributed), so the
    # same weight file must always give the same bytes.
    filters, biases = random_stack(14)
    mat = tmp_path / "VDSR_Official.mat"
    savemat(mat, {"model": {"weight": _cells(filters), "bias": _cells(biases)}})
    first = convert_vdsr.convert(mat, tmp_path / "a")
    second = convert_vdsr.convert(mat, tmp_path / "b")
    assert list(first.values()) == list(second.values())
    assert (tmp_path / "a/sr-bicubic/vdsr.onnx").read_bytes() == (tmp_path / "b/sr-bicubic/vdsr.onnx").read_bytes()
