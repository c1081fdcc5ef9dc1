"""Hard negatives for mosaic localization: regular patterns drawn into clean photos.

Each kind is drawn by numpy and Pillow code into a box of the image, from a seed the sample's
generator drew, so a sample is regenerated from its recorded params alone. The kinds are the
grid-like things a mosaic detector mistakes for cells: ``tiles`` (square tiles and grout),
``brick`` (staggered courses and mortar), ``fence`` (a chain-link mesh over the photo), ``grid``
(graph paper), ``halftone`` (dots sized by the photo's darkness), ``screentone`` (dots of one
size, as in comics), ``text`` (lines of rendered characters on a flat ground) and ``flat`` (flat
shapes as in user-interface graphics). ``docs/tasks/localize.md`` describes each.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TEXTURES = ("tiles", "brick", "fence", "grid", "halftone", "screentone", "text", "flat")


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> np.ndarray:
    return rng.integers(low, high, 3).astype(np.float64)


def _jitter(base: np.ndarray, rng: np.random.Generator, n: int, amount: float) -> np.ndarray:
    return np.clip(base + rng.uniform(-amount, amount, (n, 3)), 0, 255)


def _blocks(h: int, w: int, rng: np.random.Generator, rows: int, cols: int, offsets: np.ndarray) -> np.ndarray:
    """Flat blocks ``rows x cols`` with grout between them; row ``i`` shifted by ``offsets[i]`` pixels."""
    gap = int(rng.integers(1, 4))
    grout = _colour(rng, 150, 230)
    colours = _jitter(_colour(rng, 30, 220), rng, 4096, 25.0)
    yy, xx = np.mgrid[0:h, 0:w]
    row = yy // rows
    col = (xx + offsets[row % len(offsets)]) // cols
    which = (row * 61 + col * 17) % len(colours)
    out = colours[which]
    edge = (yy % rows < gap) | ((xx + offsets[row % len(offsets)]) % cols < gap)
    out[edge] = grout
    return out + rng.normal(0.0, 3.0, out.shape)


def _tiles(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    period = int(rng.integers(8, 41))
    return _blocks(*photo.shape[:2], rng, period, period, np.zeros(1, np.int64)), {"period": period}


def _brick(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    course = int(rng.integers(8, 25))
    length = int(course * rng.uniform(2.0, 3.0))
    return _blocks(*photo.shape[:2], rng, course, length, np.array([0, length // 2])), {"period": course}


def _lines(h: int, w: int, rng: np.random.Generator, period: int, width: int, diagonal: bool) -> np.ndarray:
    """A bool mesh: lines every ``period`` pixels, both ways, axis-aligned or at 45 degrees."""
    yy, xx = np.mgrid[0:h, 0:w]
    u, v = (xx + yy, xx - yy + 4 * period * (h + w)) if diagonal else (xx, yy)
    ox, oy = int(rng.integers(0, period)), int(rng.integers(0, period))
    return ((u + ox) % period < width) | ((v + oy) % period < width)


def _fence(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    period, width = int(rng.integers(8, 25)), int(rng.integers(1, 4))
    wire = _lines(*photo.shape[:2], rng, period, width, diagonal=bool(rng.random() < 0.7))
    out = photo.astype(np.float64) * 0.85  # the photo behind the mesh, a little shaded
    out[wire] = _colour(rng, 60, 200)
    return out, {"period": period}


def _grid(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    h, w = photo.shape[:2]
    period = int(rng.integers(6, 33))
    out = np.empty((h, w, 3))
    out[:] = _colour(rng, 200, 256)
    out[_lines(h, w, rng, period * 5, 2, diagonal=False)] = _colour(rng, 0, 160)
    out[_lines(h, w, rng, period, 1, diagonal=False)] = _colour(rng, 60, 200)
    return out, {"period": period}


def _dots(h: int, w: int, period: float, angle: float, radius: np.ndarray | float) -> np.ndarray:
    """Where dots of ``radius`` (per pixel, in periods) on a lattice of ``period`` turned by ``angle`` are."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    u, v = (xx * c + yy * s) / period, (-xx * s + yy * c) / period
    du, dv = u - np.round(u), v - np.round(v)
    return du * du + dv * dv <= np.square(radius)


def _ink_on_paper(ink: np.ndarray, rng: np.random.Generator, paper_low: int, ink_high: int) -> np.ndarray:
    """A light paper colour (``paper_low``-255) with a dark ink colour (0-``ink_high``) where ``ink`` is true;
    the paper's colour is drawn first."""
    out = np.empty((*ink.shape, 3))
    out[:] = _colour(rng, paper_low, 256)
    out[ink] = _colour(rng, 0, ink_high)
    return out


def _halftone(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    h, w = photo.shape[:2]
    period = int(rng.integers(4, 11))
    angle = math.radians(float(rng.choice([0.0, 15.0, 45.0])))
    small = (max(1, w // period), max(1, h // period))  # the photo's darkness, one value per dot
    lum = np.asarray(Image.fromarray(photo).convert("L").resize(small, Image.Resampling.BOX))
    lum = np.asarray(Image.fromarray(lum).resize((w, h), Image.Resampling.BILINEAR), np.float64) / 255.0
    ink = _dots(h, w, period, angle, 0.55 * np.sqrt(1.0 - lum))
    return _ink_on_paper(ink, rng, 220, 70), {"period": period}


def _screentone(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    h, w = photo.shape[:2]
    period = int(rng.integers(4, 13))
    angle = math.radians(float(rng.choice([0.0, 45.0])))
    ink = _dots(h, w, period, angle, float(rng.uniform(0.2, 0.45)))
    return _ink_on_paper(ink, rng, 215, 90), {"period": period}


def _text(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    h, w = photo.shape[:2]
    size = int(rng.integers(10, 25))
    canvas = Image.new("RGB", (w, h), tuple(int(c) for c in _colour(rng, 180, 256)))
    draw, ink = ImageDraw.Draw(canvas), tuple(int(c) for c in _colour(rng, 0, 90))
    font = ImageFont.load_default(size=size)
    letters = string.ascii_letters + string.digits + "    .,:-"
    for top in range(int(rng.integers(2, size)), h - size // 2, int(size * rng.uniform(1.2, 1.8))):
        line = "".join(letters[int(i)] for i in rng.integers(0, len(letters), max(1, w // max(1, size // 2))))
        draw.text((int(rng.integers(2, 12)), top), line, fill=ink, font=font)
    return np.asarray(canvas, np.float64), {"period": size}


def _flat(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    h, w = photo.shape[:2]
    canvas = Image.new("RGB", (w, h), tuple(int(c) for c in _colour(rng)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(8, max(9, w // 2))), y0 + int(rng.integers(8, max(9, h // 2)))
        fill = tuple(int(c) for c in _colour(rng))
        (draw.rectangle if rng.random() < 0.6 else draw.ellipse)([x0, y0, x1, y1], fill=fill)
    return np.asarray(canvas, np.float64), {"period": 0}


_DRAW = {
    "tiles": _tiles,
    "brick": _brick,
    "fence": _fence,
    "grid": _grid,
    "halftone": _halftone,
    "screentone": _screentone,
    "text": _text,
    "flat": _flat,
}


def draw_texture(image: np.ndarray, texture: dict[str, Any]) -> np.ndarray:
    """A copy of ``image`` with one texture (``kind``, ``box`` ``[x, y, w, h]``, ``seed``) drawn into its box."""
    x, y, w, h = texture["box"]
    out = image.copy()
    pixels, _ = _DRAW[texture["kind"]](image[y : y + h, x : x + w], np.random.default_rng(texture["seed"]))
    out[y : y + h, x : x + w] = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class TexturesOp:
    """One texture of ``kinds`` in a share ``share`` of the images, in a box of ``min_side`` to ``max_fraction``."""

    share: float
    kinds: tuple[str, ...]
    min_side: int
    max_fraction: float

    def sample(self, rng: np.random.Generator, *, height: int, width: int) -> dict[str, Any]:
        """Draw ``{"texture": None}`` or ``{"texture": {kind, box, seed}}``."""
        if rng.random() >= self.share:
            return {"texture": None}
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        top_w, top_h = (max(self.min_side, int(self.max_fraction * s)) for s in (width, height))
        w = min(width, int(rng.integers(self.min_side, top_w + 1)))
        h = min(height, int(rng.integers(self.min_side, top_h + 1)))
        box = [int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h]
        return {"texture": {"kind": kind, "box": box, "seed": int(rng.integers(0, 2**31))}}

    def apply(self, image: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return image if params["texture"] is None else draw_texture(image, params["texture"])
