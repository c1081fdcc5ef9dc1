"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, with no silent random backbone.

``lpips`` ships its small linear calibration layers, but the backbone (AlexNet by
default) comes from torchvision's ImageNet weights in the torch hub cache. Asked for
pretrained weights it cannot find, torchvision tries to download them; where that is
impossible, code that passes ``pnet_rand=True`` would silently score with a random
network. This wrapper looks for the file first, raises :class:`WeightsNotFoundError`
naming it when absent, and loads it strictly when present.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from pixbench.errors import WeightsNotFoundError
from pixbench.extras import require
from pixbench.metrics._inputs import check_pair
from pixbench.weights import hub_checkpoint

# lpips backbone name -> (torchvision weights enum name, member).
_BACKBONES = {
    "alex": ("AlexNet_Weights", "IMAGENET1K_V1"),
    "vgg": ("VGG16_Weights", "IMAGENET1K_V1"),
    "squeeze": ("SqueezeNet1_1_Weights", "IMAGENET1K_V1"),
}


def backbone_weights(net: str) -> tuple[Path, str]:
    """Where torchvision keeps the ``net`` backbone weights, and the URL they come from.

    The path is ``$TORCH_HOME/hub/checkpoints/<file>`` (``torch.hub.get_dir()``), e.g.
    ``~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth`` for AlexNet.
    """
    tvm = require("torchvision.models", needed_for="LPIPS")

    if net not in _BACKBONES:
        raise ValueError(f"net must be one of {sorted(_BACKBONES)}, got {net!r}")
    enum_name, member = _BACKBONES[net]
    url = getattr(getattr(tvm, enum_name), member).url
    return hub_checkpoint(os.path.basename(url)), url


class LPIPS:
    """Learned perceptual image patch similarity; lower means more similar.

    Example:
        >>> metric = LPIPS()                      # AlexNet, v0.1
        >>> metric(reference, test)               # uint8 HxWx3 -> float

    Args:
        net: Backbone: ``"alex"`` (the LPIPS default), ``"vgg"`` or ``"squeeze"``.
        version: LPIPS linear-layer version; ``"0.1"`` is the published one.
        weights_path: Backbone state dict to load instead of the torch hub cache file.
        device: torch device to run on.

    Raises:
        WeightsNotFoundError: The backbone weights file does not exist.
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

        hub_path, url = backbone_weights(net)
        path = Path(weights_path) if weights_path is not None else hub_path
        if not path.is_file():
            where = (
                f"weights_path={str(path)!r}"
                if weights_path is not None
                else f"{path} (the torch hub cache; set TORCH_HOME to move it)"
            )
            raise WeightsNotFoundError(
                f"LPIPS needs the torchvision {net} ImageNet backbone weights, which are not at {where}; "
                f"download {url} and put the file there, or pass weights_path="
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for unreadable files
            raise WeightsNotFoundError(f"LPIPS backbone weights at {path} cannot be read: {exc}") from None
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
