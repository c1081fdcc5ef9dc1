"""``embedded``: the colour photos that ship inside scikit-image's wheel (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pixbench.errors import SourceError
from pixbench.sources.base import SourceItem

#: File in ``skimage/data`` -> its terms, as scikit-image's ``skimage.data`` docstrings state them.
#: Only colour photographs are listed; ``motorcycle_right`` is left out because it is
#: the stereo twin of ``motorcycle_left`` and would put near-duplicates in two splits.
EMBEDDED_PHOTOS: dict[str, str] = {
    "astronaut.png": "NASA; public domain",
    "chelsea.png": "Stefan van der Walt; CC0",
    "coffee.png": "Rachel Michetti; CC0",
    "hubble_deep_field.jpg": "NASA; public domain",
    "ihc.png": "Center for Microscopy and Molecular Imaging; no known copyright restrictions",
    "motorcycle_left.png": "Middlebury 2014 stereo benchmark (Scharstein et al.); cite when used",
    "retina.jpg": "Mikael Haggstrom; CC0",
    "rocket.jpg": "SpaceX; public domain",
}


@dataclass
class EmbeddedSource:
    """The photos bundled with scikit-image, in file-name order."""

    spec: str = "embedded"
    name: str = "embedded"
    license: str = "scikit-image bundled photos, each free to use: " + "; ".join(
        f"{k}: {v}" for k, v in EMBEDDED_PHOTOS.items()
    )

    def items(self) -> Iterator[SourceItem]:
        import skimage.data

        folder = Path(skimage.data.__file__).parent
        for name in EMBEDDED_PHOTOS:
            path = folder / name
            if not path.is_file():
                raise SourceError(f"source 'embedded': {path} is missing from the installed scikit-image")
            yield SourceItem(source_id=name, path=str(path))


def open_embedded(arg: str | None) -> EmbeddedSource:
    if arg:
        raise SourceError(f"source 'embedded' takes no argument, got 'embedded:{arg}'")
    return EmbeddedSource()
