"""Pure degradation ops. Each op separates sampling from applying.

``params = op.sample(rng)`` draws the parameters from a ``numpy.random.Generator``
(seeded per sample by the builder); ``op.apply(image, params)`` is a pure function
of the image and the params. The ops of the tasks that take whole images list
their ``levels()`` instead (every quality or scale, one sample each). The plain
functions (:func:`pixelate`,
:func:`jpeg_roundtrip`, :func:`make_holes`, ...) are reused by the metrics,
baselines and evaluation code.

:func:`imresize` (MATLAB-compatible bicubic resizing) is a plain function too, not a
sampled op: it has no parameters to draw, so it is not in :data:`DEGRADATIONS`.
"""

from __future__ import annotations

from pixbench.degradations.blocks import block_positions, extract_triplets
from pixbench.degradations.gray import (
    GrayJpegOp,
    as_rgb,
    display_gray,
    gray_plane,
    is_gray,
    jpeg_roundtrip_gray,
    studio_luma,
)
from pixbench.degradations.holes import HolesOp, fill_holes, holes_mask, make_holes
from pixbench.degradations.jpeg import JpegOp, encoder_name, jpeg_roundtrip
from pixbench.degradations.mosaic import CELLS, SHAPES, MosaicOp, mosaic_cells, paint_region
from pixbench.degradations.pixelate import KERNELS, PixelateOp, downscale, pixelate, upscale
from pixbench.degradations.recompress import POSTS, RecompressOp, recompress
from pixbench.degradations.resize import imresize
from pixbench.degradations.sr import BicubicDownOp, bicubic_pair, modcrop
from pixbench.degradations.textures import TEXTURES, TexturesOp, draw_texture
from pixbench.registry import Registry

#: Degradation op name (as written in a recipe's ``op:`` field) -> op class.
DEGRADATIONS: Registry[type] = Registry("degradation")
DEGRADATIONS.register("pixelate", PixelateOp)
DEGRADATIONS.register("jpeg", JpegOp)
DEGRADATIONS.register("holes", HolesOp)
DEGRADATIONS.register("gray-jpeg", GrayJpegOp)
DEGRADATIONS.register("bicubic-down", BicubicDownOp)
DEGRADATIONS.register("textures", TexturesOp)
DEGRADATIONS.register("mosaic", MosaicOp)
DEGRADATIONS.register("recompress", RecompressOp)

__all__ = [
    "CELLS",
    "DEGRADATIONS",
    "KERNELS",
    "POSTS",
    "SHAPES",
    "TEXTURES",
    "BicubicDownOp",
    "GrayJpegOp",
    "HolesOp",
    "JpegOp",
    "MosaicOp",
    "PixelateOp",
    "RecompressOp",
    "TexturesOp",
    "as_rgb",
    "bicubic_pair",
    "block_positions",
    "display_gray",
    "downscale",
    "draw_texture",
    "encoder_name",
    "extract_triplets",
    "fill_holes",
    "gray_plane",
    "holes_mask",
    "imresize",
    "is_gray",
    "jpeg_roundtrip",
    "jpeg_roundtrip_gray",
    "make_holes",
    "modcrop",
    "mosaic_cells",
    "paint_region",
    "pixelate",
    "recompress",
    "studio_luma",
    "upscale",
]
