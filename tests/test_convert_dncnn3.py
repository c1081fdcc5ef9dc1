"""tools/convert_dncnn3.py on a small synthetic MatConvNet file laid out as the published DnCNN3.mat.

The file is written the way MATLAB's ``save -v7.3`` lays out a ``simplenn`` net (HDF5, arrays
column-major so h5py sees their axes reversed, cells as object references, chars as uint16),
with three convolutions instead of twenty; the converted graph is compared with the numpy
reference of ``test_convert_matconvnet.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from pixbench.errors import ModelError
from tests.conftest import REPO_ROOT
from tests.test_convert_matconvnet import random_stack, reference_stack

h5py = pytest.importorskip("h5py")
sys.path.insert(0, str(REPO_ROOT / "tools"))  # the converters are tools, not the package
import convert_dncnn3  # noqa: E402


def _matlab(group, name: str, array: np.ndarray):
    """A MATLAB array as v7.3 stores it: column-major, so HDF5 holds the axes reversed."""
    return group.create_dataset(name, data=np.asarray(array).T)


def _chars(group, name: str, text: str) -> None:
    _matlab(group, name, np.array([[ord(c) for c in text]], np.uint16))


def write_simplenn(path, filters, biases, *, leak: float = 0.0, stride: float = 1.0) -> None:
    """A ``net.layers`` cell of conv and relu structs, as DnCNN3.mat has them."""
    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")
        layers = []
        for i, (w, b) in enumerate(zip(filters, biases)):
            conv = refs.create_group(f"conv{i}")
            _chars(conv, "type", "conv")
            cell = conv.create_dataset("weights", (2, 1), dtype=h5py.ref_dtype)
            cell[0, 0] = _matlab(refs, f"w{i}", w).ref
            cell[1, 0] = _matlab(refs, f"b{i}", b.reshape(1, -1)).ref
            _matlab(conv, "pad", np.array([[1.0]]))
            _matlab(conv, "stride", np.array([[stride]]))
            layers.append(conv.ref)
            if i < len(filters) - 1:
                relu = refs.create_group(f"relu{i}")
                _chars(relu, "type", "relu")
                _matlab(relu, "leak", np.array([[leak]]))
                layers.append(relu.ref)
        cells = f.create_group("net").create_dataset("layers", (len(layers), 1), dtype=h5py.ref_dtype)
        for i, ref in enumerate(layers):
            cells[i, 0] = ref


def _run(path, image: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": image[None, None]})[0][0, 0]


def test_converts_to_one_file_per_task(tmp_path) -> None:
    filters, biases = random_stack(5)
    mat = tmp_path / "DnCNN3.mat"
    write_simplenn(mat, filters, biases)
    written = convert_dncnn3.convert(mat, tmp_path / "out")
    jpeg, sr = tmp_path / "out/jpeg-gray/dncnn3.onnx", tmp_path / "out/sr-bicubic/dncnn3.onnx"
    assert sorted(written) == sorted([jpeg, sr])
    image = np.random.default_rng(6).random((12, 10)).astype(np.float32)
    # DnCNN: the input minus the network; the SR file takes full-range luma and maps it to studio range
    np.testing.assert_allclose(_run(jpeg, image), reference_stack(image, filters, biases, subtract=True), atol=1e-5)
    want = reference_stack(image, filters, biases, subtract=True, studio=True)
    np.testing.assert_allclose(_run(sr, image), want, atol=1e-5)
    props = {p.key: p.value for p in onnx.load(str(sr)).metadata_props}
    assert props["pixbench.task"] == "sr-bicubic" and props["pixbench.input"] == "full"
    assert (props["pixbench.channels"], props["pixbench.range"], props["pixbench.model"]) == ("y", "01", "dncnn3")
    assert props["source.repository"] == "https://github.com/cszn/DnCNN"
    assert props["source.sha256"] == convert_dncnn3.SOURCE["sha256"] and props["conversion.luma"] == "studio"
    jpeg_props = {p.key: p.value for p in onnx.load(str(jpeg)).metadata_props}
    assert jpeg_props["pixbench.task"] == "jpeg-gray" and "pixbench.input" not in jpeg_props
    assert jpeg_props["conversion.luma"] == "full"


def test_cli_refuses_another_file_unless_asked(tmp_path, capsys) -> None:
    filters, biases = random_stack(7)
    mat = tmp_path / "other.mat"
    write_simplenn(mat, filters, biases)
    assert convert_dncnn3.main([str(mat), "-o", str(tmp_path / "out")]) == 1
    assert "is not the published model/DnCNN3.mat of https://github.com/cszn/DnCNN" in capsys.readouterr().err
    assert convert_dncnn3.main([str(mat), "-o", str(tmp_path / "out"), "--any-file"]) == 0
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "out/jpeg-gray/dncnn3.onnx")).metadata_props}
    assert props["source.commit"] == "unknown" and props["source.path"] == str(mat)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"leak": 0.1}, r"layer 2 is a leaky ReLU"), ({"stride": 2.0}, r"layer 1 has stride \[2\.0\] and padding")],
)
def test_refuses_layers_it_cannot_convert(tmp_path, kwargs, message) -> None:
    filters, biases = random_stack(8)
    mat = tmp_path / "net.mat"
    write_simplenn(mat, filters, biases, **kwargs)
    with pytest.raises(ModelError, match=message):
        convert_dncnn3.read_layers(mat)


def test_refuses_a_file_that_is_not_hdf5(tmp_path) -> None:
    mat = tmp_path / "v5.mat"
    mat.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(ModelError, match=r"v5\.mat: not a MATLAB 7\.3 \(HDF5\) file"):
        convert_dncnn3.read_layers(mat)


@pytest.mark.parametrize(("source", "images"), [("classic5", 5), ("live1", 29)])
def test_committed_rows_are_table_v(source: str, images: int) -> None:
    # The committed result file of the converted model gives the paper's Table V (DnCNN-3 column,
    # leaderboards/published.yaml) to its last digit at every quality, on Classic5 and on LIVE1.
    import json

    import yaml

    published = yaml.safe_load((REPO_ROOT / "leaderboards/published.yaml").read_text())["rows"]
    rows = [r for r in published if r["model"] == "dncnn3" and r["table"] == f"jpeg-gray-v1-folder-{source}"]
    result = json.loads((REPO_ROOT / f"leaderboards/results/{source}/jpeg-gray/dncnn3.json").read_text())
    assert sorted(r["where"]["quality"] for r in rows) == [10, 20, 30, 40]
    for row in rows:
        level = result["breakdown"]["quality"][str(row["where"]["quality"])]
        assert level["n"] == images
        assert round(level["model_psnr"], 2) == row["metrics"]["psnr"]
        assert round(level["model_ssim"], 4) == row["metrics"]["ssim"]
