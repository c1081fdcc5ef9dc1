"""Grid-aware depixelation: recover the low-res grid, then upscale it with a small learned network.

Pipeline: :func:`pixbench.forensics.grid.estimate_grid` finds the factor and
phase, :func:`pixbench.forensics.grid.recover_lowres` takes one pixel per block
(exact for nearest pixelation), and :class:`GridUpscaler` maps that grid back to
full size. The upscaler predicts a residual over bicubic interpolation with a
sub-pixel convolution (Shi et al. 2016, ESPCN); it is trained here on BSD68 and
scikit-image photos with the degradation of the ``depixelate-*`` recipes (box
downscale), so it learns to undo the box average that bicubic ignores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as TF

from pixbench import __version__
from pixbench.forensics import grid as G
from pixbench.forensics import synthetic as S
from pixbench.images import write_bytes_atomic

MODEL_DIR = Path(__file__).resolve().parent.parent.parent / "leaderboards" / "models"


class GridUpscaler(nn.Module):
    """Bicubic base plus a learned sub-pixel residual, computed on the low-res grid.

    Args:
        scale: Integer upscale factor.
        channels: Feature channels of the hidden convolutions.
        layers: Hidden 3x3 convolutions after the first one.
    """

    def __init__(self, *, scale: int, channels: int = 24, layers: int = 2) -> None:
        super().__init__()
        if not 2 <= scale <= 16:
            raise ValueError(f"scale: expected an integer in 2..16, got {scale!r}")
        self.scale = scale
        body: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.ReLU()]
        for _ in range(layers):
            body += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        body += [nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale)]
        self.body = nn.Sequential(*body)
        nn.init.zeros_(self.body[-2].weight)  # start as plain bicubic
        nn.init.zeros_(self.body[-2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, h, w)`` in [0, 1] -> ``(N, 3, h*scale, w*scale)`` in [0, 1]."""
        base = TF.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)
        return torch.clamp(base + self.body(x), 0.0, 1.0)


def _pairs(images: list[np.ndarray], scale: int, n: int, size: int, rng: np.random.Generator):
    hr = np.stack([S.random_crop(images[int(rng.integers(len(images)))], size, rng) for _ in range(n)])
    lr = np.stack([S.resize(h, (size // scale, size // scale), "box") for h in hr])
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255.0  # noqa: E731
    return to_t(lr), to_t(hr)


def train_upscaler(images: list[np.ndarray], *, scale: int, steps: int = 1500, batch: int = 16,
                   seed: int = 0, progress=None) -> GridUpscaler:
    """Train a :class:`GridUpscaler` on box-downscaled crops of ``images`` (L1 loss, Adam)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GridUpscaler(scale=scale)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    size = 12 * scale if scale >= 4 else 64
    for step in range(steps):
        lr, hr = _pairs(images, scale, batch, size, rng)
        opt.zero_grad()
        loss = TF.l1_loss(model(lr), hr)
        loss.backward()
        opt.step()
        sched.step()
        if progress is not None:
            progress(step, loss.item())
    return model.eval()


def export_upscaler(model: GridUpscaler, path: str | Path) -> Path:
    """Export to ONNX (NCHW, [0, 1], ``pixbench.input=lowres``) and write it atomically."""
    import io

    import onnx

    buf = io.BytesIO()
    dummy = torch.rand(1, 3, 32, 32)
    torch.onnx.export(model, (dummy,), buf, input_names=["lowres"], output_names=["image"], opset_version=17,
                      dynamic_axes={"lowres": {0: "N", 2: "h", 3: "w"}, "image": {0: "N", 2: "H", 3: "W"}},
                      dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.helper.set_model_props(proto, {
        "pixbench.task": "depixelate", "pixbench.layout": "nchw", "pixbench.range": "01",
        "pixbench.channels": "rgb", "pixbench.input": "lowres", "pixbench.scale": str(model.scale),
        "pixbench.model": f"grid-upscaler-x{model.scale}", "pixbench.version": __version__,
    })
    path = Path(path)
    write_bytes_atomic(path, proto.SerializeToString())
    return path


def depixelate(image: np.ndarray, session, *, scale: int) -> tuple[np.ndarray, G.GridEstimate]:
    """Full pipeline on one ``HxWx3 uint8`` image with an onnxruntime session of the upscaler.

    The grid is estimated, the low-res image recovered, upscaled by ``scale`` and
    cut (or edge-padded) back to the input size. For an interpolating upscale the
    spectral factor estimate is not reliable enough, so the upscaler's own
    ``scale`` sets the box downscale (see docs/detector.md, "Where it fails").
    """
    est = G.estimate_grid(image, probability=1.0)
    if est.kernel_family != "replicating":
        est.x.factor = est.y.factor = float(scale)
    low = G.recover_lowres(image, est)
    out = session.run(None, {"lowres": (low.transpose(2, 0, 1)[None] / 255.0).astype(np.float32)})[0][0]
    out = np.clip(np.round(out.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
    h, w = image.shape[:2]
    out = np.pad(out, ((0, max(0, h - out.shape[0])), (0, max(0, w - out.shape[1])), (0, 0)), mode="edge")
    return np.ascontiguousarray(out[:h, :w]), est
