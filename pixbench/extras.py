"""Optional dependencies, and the one message for a missing one.

The core install (``pip install pixbench``) builds datasets, evaluates ONNX models,
computes the metrics other than LPIPS and renders leaderboards without torch.
Training and export need ``pixbench[train]``, LPIPS needs ``pixbench[lpips]``,
``build-dataset --engine ray`` needs ``pixbench[ray]``; ``pixbench[all]`` installs them all.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pixbench.errors import PixbenchError

#: Top-level module -> the extra that installs it.
EXTRAS: dict[str, str] = {
    "torch": "train",
    "torchvision": "train",
    "onnxscript": "train",
    "lpips": "lpips",
    "ray": "ray",
}


class MissingExtraError(PixbenchError):
    """An optional dependency is needed but not installed."""


def missing_extra(module: str, *, needed_for: str | None = None) -> MissingExtraError:
    """The error for ``module`` not being installed, naming the extra that brings it."""
    root = module.split(".")[0]
    extra = EXTRAS.get(root, "all")
    what = f"{needed_for} needs" if needed_for else "this needs"
    return MissingExtraError(f"{what} {root}, which is not installed: pip install 'pixbench[{extra}]'")


def require(module: str, *, needed_for: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] in EXTRAS:
            raise missing_extra(exc.name, needed_for=needed_for) from None
        raise
