"""Convert DnCNN-3 (Zhang et al., IEEE TIP 2017) to ONNX for ``pixbench evaluate``.

    git clone https://github.com/cszn/DnCNN
    python tools/convert_dncnn3.py DnCNN/model/DnCNN3.mat -o leaderboards/work/thirdparty

reads the authors' MatConvNet model (a MATLAB 7.3 file, HDF5 inside: needs ``pip install h5py``)
and writes the same network twice, once per benchmark it has published numbers on:
``<out>/jpeg-gray/dncnn3.onnx`` (JPEG deblocking of grey images) and
``<out>/sr-bicubic/dncnn3.onnx`` (super-resolution from the bicubic upscale, ``pixbench.input=full``).

The network, as the authors' ``Demo_test_DnCNN3.m`` applies it: one luma channel in [0, 1]
(``im2single``), twenty 3x3 convolutions with padding 1 and ReLUs between them (batch
normalisation is already folded into the convolutions in this file), and the output is the
input minus the last layer (the network predicts the degradation). The graph takes any image size.

For super-resolution the demo feeds the luma of MATLAB's ``rgb2ycbcr``, which is BT.601 studio
range (16 to 235 of 255), while pixbench feeds ``channels=y`` models full-range luma (0 to 255):
the SR graph maps its input to studio range before the network and back after it (nodes
``to_studio_luma`` and ``from_studio_luma``, prop ``conversion.luma=studio``). For deblocking the
luma is the grey image itself in both, so the JPEG graph takes it as it is (``conversion.luma=full``).

The repository states no licence, so the converted weights are not redistributed: write them
under a git-ignored folder (``leaderboards/work/`` is one). The file is checked against the
SHA-256 of the published ``model/DnCNN3.mat``; ``--any-file`` converts another file of the
same layout (its props then say so).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from convert_matconvnet import ConvLayer, from_matconvnet, luma_props, model_proto, residual_graph, run_cli, save

from pixbench.errors import ModelError

MODEL = "dncnn3"
#: The published file and where it was read from (it has not changed since commit 55fdeb2, 2016-08-13).
SOURCE = {
    "repository": "https://github.com/cszn/DnCNN",
    "commit": "e93b27812d3ff523a3a79d19e5e50d233d7a8d0a",
    "path": "model/DnCNN3.mat",
    "sha256": "3962377d522b6728417e364bf7a589cf34ddfb592af0bd9769e53f8123d17677",
    "licence": "none stated by the repository: weights not redistributed",
    "paper": "Zhang, Zuo, Chen, Meng, Zhang: Beyond a Gaussian Denoiser, IEEE TIP 26(7) 2017",
}
#: One file per task the network is scored on. The SR file takes the bicubic upscale (``input=full``)
#: and maps pixbench's full-range luma to the studio range the network was tested on (``studio_luma``);
#: the deblocking file takes the grey image as it is, as the authors' demo does (``im2single`` of it).
TASKS = {
    "jpeg-gray": {"full_input": False, "studio_luma": False},
    "sr-bicubic": {"full_input": True, "studio_luma": True},
}


def _text(dataset) -> str:
    """A MATLAB char array (UTF-16 code units) of an HDF5 MAT-file as a string."""
    return "".join(chr(c) for c in np.asarray(dataset).ravel())


def read_layers(path: Path) -> list[ConvLayer]:
    """The convolutions of a MatConvNet ``simplenn`` net saved with ``save -v7.3`` (``net.layers``).

    Raises:
        ModelError: The file is not such a net, or it has a layer other than conv (stride 1,
            padding k//2) and plain ReLU, or two convolutions without a ReLU between them.
    """
    try:
        import h5py
    except ImportError:
        raise ModelError("reading a MATLAB 7.3 file needs h5py: pip install h5py") from None
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ModelError(f"{path}: not a MATLAB 7.3 (HDF5) file: {exc}") from None
    with f:
        if "net" not in f or "layers" not in f["net"]:
            raise ModelError(f"{path}: no net.layers (expected a MatConvNet simplenn model)")
        layers, previous = [], "relu"
        for i, ref in enumerate(np.asarray(f["net"]["layers"]).ravel(), start=1):
            layer = f[ref]
            kind = _text(layer["type"])
            if kind == "relu":
                if float(np.asarray(layer["leak"]).ravel()[0]) != 0.0:
                    raise ModelError(f"{path}: layer {i} is a leaky ReLU; only plain ReLU is supported")
            elif kind == "conv":
                if previous == "conv":
                    raise ModelError(f"{path}: layers {i - 1} and {i} are convolutions without a ReLU between")
                # h5py reads MATLAB's column-major arrays with their axes reversed.
                w, b = (np.asarray(f[r]).T for r in np.asarray(layer["weights"]).ravel())
                conv = from_matconvnet(w, b)
                pad = np.asarray(layer["pad"]).ravel()
                stride = np.asarray(layer["stride"]).ravel()
                if np.any(stride != 1) or np.any(pad != conv.weight.shape[2] // 2):
                    raise ModelError(f"{path}: layer {i} has stride {stride.tolist()} and padding {pad.tolist()}")
                layers.append(conv)
            else:
                raise ModelError(f"{path}: layer {i} is {kind!r}; only conv and relu are supported")
            previous = kind
        if previous != "conv":
            raise ModelError(f"{path}: the last layer is {previous!r}, expected a convolution")
        return layers


def convert(mat: Path, out_dir: Path, *, source: dict[str, str] = SOURCE) -> dict[Path, str]:
    """Write one ONNX file per task of :data:`TASKS` under ``out_dir/<task>/``; return their SHA-256 by path."""
    layers, written = read_layers(mat), {}
    for task, how in TASKS.items():
        graph = residual_graph(layers, subtract=True, name=MODEL, studio_luma=how["studio_luma"])
        props = luma_props(task, MODEL, full_input=how["full_input"])
        path = out_dir / task / f"{MODEL}.onnx"
        written[path] = save(model_proto(graph, props, source, studio_luma=how["studio_luma"]), path)
    return written


def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, "model/DnCNN3.mat of github.com/cszn/DnCNN", convert, SOURCE, argv)


if __name__ == "__main__":
    sys.exit(main())
