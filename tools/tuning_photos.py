"""The tuning photos of the grid detector and the grid upscalers: BSD68 and scikit-image's bundled photos.

Kodak and Set14 are never used here: they are test sources. The photos come through
:mod:`pixbench.sources` (``folder:PATH`` and ``embedded``), so no network is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixbench.sources import load_pixels, open_source

#: scikit-image's bundled colour photos used as tuning material (natural scenes only), in the
#: order the shipped parameters were fitted with (the ``embedded`` source lists more photos).
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
#: File suffixes :func:`load_folder` reads.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif")


def load_folder(path: str | Path) -> list[np.ndarray]:
    """Every image of a folder (sorted by name), through the ``folder:PATH`` source."""
    items = open_source(f"folder:{path}").items()
    return [load_pixels(item) for item in items if Path(item.source_id).suffix.lower() in IMAGE_SUFFIXES]


def skimage_photos() -> list[np.ndarray]:
    """:data:`SKIMAGE_PHOTOS` from the ``embedded`` source (scikit-image's bundled photos; no network)."""
    items = {Path(item.source_id).stem: item for item in open_source("embedded").items()}
    return [load_pixels(items[name]) for name in SKIMAGE_PHOTOS]
