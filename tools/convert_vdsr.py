"""Convert VDSR (Kim, Lee, Lee, CVPR 2016), the authors' model, to ONNX for ``pixbench evaluate``.

    git clone https://github.com/huangzehao/caffe-vdsr
    python tools/convert_vdsr.py caffe-vdsr/Test/VDSR_Official.mat -o leaderboards/work/thirdparty

reads ``VDSR_Official.mat`` (a MATLAB 5 file, read with scipy: the authors' MatConvNet model
from their official test code, kept in git by the caffe-vdsr repository) and writes
``<out>/sr-bicubic/vdsr.onnx``: one network for every scale (VDSR is trained on x2, x3 and x4
at once), taking the bicubic upscale (``pixbench.input=full``).

The network, as the repository's ``Test/Demo_SR_Conv.m`` and ``Test/utils/VDSR_Matconvnet.m``
apply it: the luma of the bicubic upscale in [0, 1], twenty 3x3 convolutions (``vl_nnconv``
with padding 1) with ReLUs between them, and the output is the input plus the last layer (the
network predicts the missing detail). The graph takes any image size. The luma there is
MATLAB's ``rgb2ycbcr``, BT.601 studio range (16 to 235 of 255), while pixbench feeds
``channels=y`` models full-range luma: the graph maps its input to studio range before the
network and back after it (nodes ``to_studio_luma`` and ``from_studio_luma``, prop
``conversion.luma=studio``). Fed full-range luma, the network loses 0.3 dB on Set5 x3.

caffe-vdsr is MIT-licensed, but this file is the authors' model converted from their official
test code, which states no licence: the converted weights are not redistributed; write them
under a git-ignored folder (``leaderboards/work/`` is one). The file is checked against the
SHA-256 of the published ``Test/VDSR_Official.mat``; ``--any-file`` converts another file of
the same layout (its props then say so).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from convert_matconvnet import ConvLayer, from_matconvnet, luma_props, model_proto, residual_graph, run_cli, save

from pixbench.errors import ModelError

MODEL = "vdsr"
TASK = "sr-bicubic"
#: The published file and where it was read from (added in commit 40a295f, 2016-08-23, unchanged since).
SOURCE = {
    "repository": "https://github.com/huangzehao/caffe-vdsr",
    "commit": "5a839232d179c10736ed94e7142068b168b61cf6",
    "path": "Test/VDSR_Official.mat",
    "sha256": "f613166660840af1a2ca47e31b0337b951e7c4e094364f6135a16d81a55c323c",
    "licence": "repository MIT; the model is the authors' official one, which states no licence: not redistributed",
    "paper": "Kim, Lee, Lee: Accurate Image Super-Resolution Using Very Deep Convolutional Networks, CVPR 2016",
}


def read_layers(path: Path) -> list[ConvLayer]:
    """The convolutions of a ``model`` struct with ``weight`` and ``bias`` cell arrays (MATLAB 5 file).

    Raises:
        ModelError: The file cannot be read or has no such struct.
    """
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except (OSError, ValueError, IndexError, NotImplementedError) as exc:  # scipy's MatReadError is a ValueError
        raise ModelError(f"{path}: not a MATLAB 5 file scipy can read: {exc}") from None
    model = mat.get("model")
    names = model.dtype.names if isinstance(model, np.ndarray) and model.dtype.names else ()
    if "weight" not in names or "bias" not in names:
        raise ModelError(f"{path}: no model.weight and model.bias (expected VDSR_Official.mat)")
    weights, biases = model["weight"][0, 0].ravel(), model["bias"][0, 0].ravel()
    if len(weights) != len(biases):
        raise ModelError(f"{path}: {len(weights)} weight arrays but {len(biases)} bias arrays")
    return [from_matconvnet(w, b) for w, b in zip(weights, biases)]


def convert(mat: Path, out_dir: Path, *, source: dict[str, str] = SOURCE) -> dict[Path, str]:
    """Write ``out_dir/sr-bicubic/vdsr.onnx``; return its SHA-256 by path."""
    graph = residual_graph(read_layers(mat), subtract=False, name=MODEL, studio_luma=True)
    path = out_dir / TASK / f"{MODEL}.onnx"
    return {path: save(model_proto(graph, luma_props(TASK, MODEL, full_input=True), source, studio_luma=True), path)}


def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, "Test/VDSR_Official.mat of github.com/huangzehao/caffe-vdsr", convert, SOURCE, argv)


if __name__ == "__main__":
    sys.exit(main())
