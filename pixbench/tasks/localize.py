"""``localize``: which pixels of an image are mosaicked? A model outputs a per-pixel map.

A sample is a whole source image, with a hard-negative pattern drawn in now and then
(``textures``), 0 to ``max_regions`` mosaic regions (``mosaic``), then re-encoded or shrunk and
re-encoded (``recompress``); its ``mask`` is True (255) on the mosaicked pixels and follows the
image through a downscale. The regions, the pattern and the re-encoding are in ``params``; the
flat columns say what results break down by (``docs/tasks/localize.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pixbench.tasks.base import Column, Task
from pixbench.tasks.sampling import TaskSample

#: Region size buckets: the longer side of a region's box in the final image, in pixels (upper bounds).
SIZE_BUCKETS = ((64, "<=64"), (128, "65-128"), (256, "129-256"), (None, ">256"))
#: Block size buckets: the block side the region was made with (before any downscale), upper bounds.
BLOCK_BUCKETS = ((7, "2-7"), (15, "8-15"), (None, ">=16"))


def _bucket(value: float, buckets: tuple[tuple[int | None, str], ...]) -> str:
    return next(label for top, label in buckets if top is None or value <= top)


def region_columns(region: dict[str, Any], scale: float) -> dict[str, str]:
    """The per-region breakdown values of one recorded region (``size``, ``shape``, ``edge``, ``block``, ``cell``)."""
    return {
        "size": _bucket(max(region["box"][2:]) * scale, SIZE_BUCKETS),
        "shape": region["shape"],
        "edge": "feathered" if region["feather"] else "hard",
        "block": _bucket(region["block"], BLOCK_BUCKETS),
        "cell": region["cell"],
    }


def scaled_box(region: dict[str, Any], scale: float) -> tuple[int, int, int, int]:
    """A region's box ``x0, y0, x1, y1`` (end exclusive) in the final image, grown to whole pixels."""
    x, y, w, h = region["box"]
    return math.floor(x * scale), math.floor(y * scale), math.ceil((x + w) * scale), math.ceil((y + h) * scale)


def _sample_scale(params: Mapping[str, Any]) -> float:
    """The downscale a sample went through after its mosaics (``scale``; 1 without one)."""
    scale = params.get("scale")
    return float(scale) if isinstance(scale, (int, float)) else 1.0


class LocalizeTask(Task):
    """Localization: whole images, several variants each; the mask is the answer, not a model input."""

    def min_side(self, recipe: Any) -> int:
        """Room for a texture box and for two of the smallest regions side by side."""
        textures, mosaic = recipe.degradations[0], recipe.degradations[1]
        return max(textures.min_side, 2 * mosaic.min_side)

    def samples_per_image(self, recipe: Any) -> int:
        return recipe.degradations[1].per_image

    def make_sample(self, image: np.ndarray, recipe: Any, rng: np.random.Generator, index: int) -> TaskSample:
        textures, mosaic, post = recipe.ops()
        h, w = image.shape[:2]
        # every draw first (pattern, regions, re-encoding), then the pixels
        pattern = textures.sample(rng, height=h, width=w)["texture"]
        regions = mosaic.sample(rng, height=h, width=w)["regions"]
        after = post.sample(rng)
        clean = textures.apply(image, {"texture": pattern})
        mosaicked, mask = mosaic.apply(clean, {"regions": regions})
        out, mask = post.apply(mosaicked, mask, after)
        texture = "none" if pattern is None else pattern["kind"]
        params: dict[str, Any] = {
            "regions": len(regions),
            "negative_kind": "" if regions else ("photo" if pattern is None else texture),
            "texture": texture,
            **after,
            "mosaics": regions,
            "pattern": pattern,
            **{"crop_x": 0, "crop_y": 0, "crop_w": w, "crop_h": h},  # the whole source image
        }
        return TaskSample(input=out, params=params, mask=mask.astype(np.uint8) * 255)

    def sample_regions(self, params: Mapping[str, Any]) -> list[tuple[tuple[int, int, int, int], dict[str, str]]]:
        """The recorded regions (``mosaics``), their boxes scaled as the image was (``scale``)."""
        scale = _sample_scale(params)
        return [(scaled_box(r, scale), region_columns(r, scale)) for r in params.get("mosaics") or []]

    def region_blocks(self, params: Mapping[str, Any]) -> list[float]:
        """Each recorded region's block side in the sample's pixels: the side it was made with, times ``scale``."""
        scale = _sample_scale(params)
        return [float(r["block"]) * scale for r in params.get("mosaics") or []]

    def card_notes(self, recipe: Any) -> list[str]:
        return [
            "`mask/` is 255 on mosaicked pixels and 0 elsewhere (all 0 on an image without regions); "
            "`params` lists each region (`mosaics`), the drawn pattern (`pattern`) and the re-encoding.",
            "",
        ]


TASK = LocalizeTask(
    name="localize",
    restores=False,
    primary="iou",
    ops=("textures", "mosaic", "recompress"),
    files=("input", "mask"),
    metadata=("regions", "negative_kind", "texture", "post", "quality", "scale"),
    inputs="whole image, mosaicked where mask=255",
    breakdown=("post", "negative_kind", "texture"),
    columns=(
        Column("iou", "IoU", "iou", "f4"),
        Column("f1", "F1", "f1", "f4"),
        Column("ap", "pixel AP", "ap", "f4"),
        Column("region_recall", "region recall", "region_recall", "pct"),
        Column("fp_area", "FP area", "fp_area", "pct"),
    ),
    whole_images=True,
    level_tables=("size", "shape", "edge", "block", "cell", "post", "negative_kind"),
    region_breakdown=("size", "shape", "edge", "block", "cell"),
    maps=True,
)
