"""Grid-aware depixelation of one image: estimate the grid, align it, run the factor's ONNX graph.

The published graphs (``leaderboards/models/grid-upscaler-x{2,4,8}.onnx``, built
by :mod:`pixbench.forensics.upscaler_onnx`) take the full-size pixelated image
with its grid starting at pixel 0 and sides that are multiples of their cell.
:func:`depixelate` makes any image fit: :func:`pixbench.forensics.grid.estimate_grid`
gives factor and phase, the factor picks the graph, and the image is
edge-padded so the first and last blocks are whole (edge padding repeats a
block's own colour, so a partial block becomes a whole one with the same mean),
run, and cut back. Non-integer replicating factors are first resampled onto a
regular grid from the exactly recovered low-res image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixbench.degradations.pixelate import upscale
from pixbench.errors import ModelError
from pixbench.forensics import grid as G
from pixbench.forensics.features import check_image
from pixbench.forensics.upscaler_config import UpscalerConfig

MODEL_DIR = Path(__file__).resolve().parent.parent.parent / "leaderboards" / "models"


@dataclass
class Depixelator:
    """One factor's ONNX graph in an onnxruntime session, with its cell size."""

    session: object
    scale: int
    cell: int

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 0) -> Depixelator:
        """Open a ``grid-upscaler-x*.onnx`` file (``threads=0``: onnxruntime's default)."""
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"depixelator: {path} does not exist; train it with `python tools/train_depixelators.py`")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        props = session.get_modelmeta().custom_metadata_map
        try:
            config = UpscalerConfig(**json.loads(props["pixbench.model_args"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"depixelator: {path.name} is not a grid upscaler graph (pixbench.model_args: {exc})"
            ) from exc
        return cls(session, config.scale, config.cell)

    def run(self, image: np.ndarray) -> np.ndarray:
        """``HxWx3 uint8`` with its grid at pixel 0 and sides multiples of :attr:`cell` -> same shape."""
        x = np.ascontiguousarray(image.transpose(2, 0, 1)[None])
        return np.ascontiguousarray(self.session.run(None, {"image": x})[0][0].transpose(1, 2, 0))


def load_depixelators(
    folder: str | Path = MODEL_DIR, scales: tuple[int, ...] = (2, 4, 8), *, stem: str = "grid-upscaler"
) -> dict[int, Depixelator]:
    """The graphs ``<stem>-x{s}.onnx`` of ``scales`` in ``folder``, keyed by factor.

    ``stem`` picks the tier (:data:`~pixbench.forensics.upscaler_config.TIERS`): ``grid-upscaler``
    for the real-time graphs, ``grid-upscaler-hq`` for the quality tier.
    """
    return {s: Depixelator.load(Path(folder) / f"{stem}-x{s}.onnx") for s in scales}


def choose_scale(factor: float, available: Mapping[int, object] | list[int]) -> int:
    """The available factor nearest to ``factor`` on a log scale."""
    if not available:
        raise ModelError("depixelator: no upscaler graphs loaded")
    return min(available, key=lambda s: abs(np.log(factor / s)))


def _offset(axis: G.AxisGrid, s: int) -> int:
    """Pixels to prepend so that the first whole block starts at a multiple of ``s``."""
    return (s - int(round(axis.phase)) % s) % s


def run_aligned(image: np.ndarray, model: Depixelator, *, top: int = 0, left: int = 0) -> np.ndarray:
    """Edge-pad ``top``/``left`` and up to whole cells, run ``model``, and cut back to ``image``'s size."""
    h, w = image.shape[:2]
    c = model.cell
    pads = ((top, (-(top + h)) % c), (left, (-(left + w)) % c), (0, 0))
    out = model.run(np.pad(image, pads, mode="edge") if any(p for pair in pads for p in pair) else image)
    return out[top : top + h, left : left + w]


def depixelate(
    image: np.ndarray,
    models: Mapping[int, Depixelator],
    *,
    grid: G.GridEstimate | None = None,
    scale: int | None = None,
) -> tuple[np.ndarray, G.GridEstimate, int]:
    """Depixelate one ``HxWx3 uint8`` image.

    Args:
        image: The pixelated image.
        models: Graphs by factor (:func:`load_depixelators`).
        grid: A grid estimate already made for ``image``; estimated here if ``None``.
        scale: Force the graph of this factor (for interpolating upscales, whose spectral
            factor estimate can be off by a factor of two).

    Returns:
        ``(restored image, grid estimate, factor of the graph used)``.
    """
    check_image(image)
    est = grid if grid is not None else G.estimate_grid(image, probability=1.0)
    s = scale if scale is not None else choose_scale(est.factor, models)
    if s not in models:
        raise ModelError(f"scale: no depixelator for factor {s}; loaded: {sorted(models)}")
    model = models[s]
    if est.kernel_family != "replicating":
        # interpolating upscale: the graph's box average by s is the best low-res estimate we have
        return run_aligned(image, model), est, s
    if abs(est.x.factor - s) < 0.02 and abs(est.y.factor - s) < 0.02:
        return run_aligned(image, model, top=_offset(est.y, s), left=_offset(est.x, s)), est, s
    # non-integer blocks: put the exact low-res image on a regular grid of s, then resample
    low = G.recover_lowres(image, est)
    regular = np.repeat(np.repeat(low, s, axis=0), s, axis=1)
    out = run_aligned(regular, model)
    h, w = image.shape[:2]
    return upscale(out, size=(h, w), kernel="bicubic"), est, s
