"""Finding and reading pretrained weight files that pixbench never downloads.

torchvision-style weights (ImageNet MobileNetV2, VGG-19, the AlexNet behind LPIPS)
are looked for at a path the user gives, else in the torch hub cache
(``$TORCH_HOME/hub/checkpoints``). A missing file is a :class:`WeightsNotFoundError`
that names the file and where to put it; nothing falls back to random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from pixbench.errors import ModelError, WeightsNotFoundError


def hub_checkpoint(filename: str) -> Path:
    """Where the torch hub cache keeps ``filename`` (``torch.hub.get_dir()/checkpoints``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def locate_weights(filename: str, *, given: str | os.PathLike | None, needed_for: str, option: str) -> Path:
    """Return the weights file to load: ``given`` if set, else the torch hub cache copy.

    Args:
        filename: torchvision's file name, e.g. ``vgg19-dcbb9e9d.pth``.
        given: A path the user passed (command-line option or argument), or None.
        needed_for: What asked for the weights, for the message (``"--loss perceptual"``).
        option: The option that takes a path, for the message (``"--vgg-weights"``).

    Raises:
        WeightsNotFoundError: The file is in neither place.
    """
    if given:
        path = Path(given)
        if not path.is_file():
            raise WeightsNotFoundError(f"{option} {path}: no such file (expected torchvision's {filename})")
        return path
    path = hub_checkpoint(filename)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{needed_for} needs the ImageNet weights {filename}; pixbench does not download them: "
            f"copy the file to {path} or pass {option}"
        )
    return path


def load_prefixed_state(module, path: Path, *, prefix: str, what: str, keep=None) -> None:
    """Strictly load the tensors of ``path`` whose keys start with ``prefix`` into ``module``.

    Args:
        module: The torch module to fill (e.g. a torchvision ``features`` block).
        path: A torch state-dict file.
        prefix: Key prefix to select and strip (``"features."``).
        what: Name of the weights for messages (``"VGG-19"``).
        keep: Optional predicate on the stripped key; keys it rejects are not loaded.

    Raises:
        ModelError: The file cannot be read, or its tensors do not fit ``module`` exactly.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise ModelError(f"{path}: cannot read {what} weights: {exc}") from None
    sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if keep is not None:
        sub = {k: v for k, v in sub.items() if keep(k)}
    try:
        module.load_state_dict(sub, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path}: not {what} weights: {str(exc).splitlines()[0]}") from None
