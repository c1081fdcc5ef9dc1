"""``kodak``: the 24 Kodak Lossless True Color images, from their official URLs or a local folder.

``kodak`` downloads ``kodim01.png`` ... ``kodim24.png`` once into the cache;
``kodak:PATH`` (or ``$PIXBENCH_KODAK_DIR``) reads them from a local folder instead,
for example ``kodak:../shared/datasets/kodak``. Either way each image is verified by
the SHA-256 of its decoded pixels, so a re-encoded copy is accepted and an altered
one is skipped with a reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pixbench.errors import SourceError
from pixbench.sources.base import SourceItem
from pixbench.sources.download import default_cache_dir

BASE_URL = "https://r0k.us/graphics/kodak/kodak/"
LICENSE = "Kodak Lossless True Color Image Suite, released by Eastman Kodak for unrestricted usage"

#: ``pixel_sha256`` of each decoded image (768x512 or 512x768 RGB).
KODAK_PIXEL_SHA256: dict[str, str] = {
    "kodim01": "6c7c9230bd197b1537bece98df875720e39d1be22e0494503536b14b9a9b1043",
    "kodim02": "c70e58cc2ad64baf6df5d48295f749ebe96c3b3185364818f2eab115eaaddfa1",
    "kodim03": "d6212d4bb2862c211fa4aa1ec4d12dfbe48c76443411592d820aa107e12ff825",
    "kodim04": "3cc6b00671ebf6e695f9097bacc0c51e105b05dc140170d78324c999c9fedc06",
    "kodim05": "e195b3431ed95ab0d4b1f2039d41f88e4177160d27cf25a3bb348a0b90ba2dc8",
    "kodim06": "e8f0b50000f3fe31318cd7788c8034e0120398197c9f8f6e8dcd49322d595e0b",
    "kodim07": "ccd0736253e3e530e9c565a1e037d40635bae5674bd78e350b657bbe081c197f",
    "kodim08": "125c4480b3266fc54033df8009cd598e54a3aa5552ba2cb7e4dd5e01b09b796d",
    "kodim09": "7b79e0f5a3d9e4b98f146be77e435fc10e749b8ca600a76f25ca680a3018475c",
    "kodim10": "7cdfd41372a09e2ab60bb4d30f9656f1864ed4b965db8627a92c89f23eb09878",
    "kodim11": "e41b815579fe26868fc937ea888775e5926d4a89158e5e9f5419ee39af02b2fc",
    "kodim12": "3553a3cd2293921d59a12c4e600364756932f8da57ad3006aec53a1c7861e22f",
    "kodim13": "53c7dc5c7e0f9d722cb1dc7cc1d542a0408be318f4704ab3235faee4f29dc69b",
    "kodim14": "cc5f88d54b97f9fc1ec84ddac4cacc1df94d93c4aa33c1a8013401caf1d551b9",
    "kodim15": "9a5e77b7429650c1a5ce976a6944cd14d10299c5bc69d1b5f39882e3da659578",
    "kodim16": "d12d65d166243db424824d5bc748029a2713668ce088b78c95a3f17029f162a4",
    "kodim17": "eef319cc9ef9eddc4d3adc5bd99562ed819218db248cf6df47a733e8cd70fa91",
    "kodim18": "a415cf67f845dbd3780461d2068bd21446f9f2ae25f6da78e3a7024ec0c20fe9",
    "kodim19": "ef2fab96ebc7b256b7488148d6cc1b037cc1d418f5c3e865a3052a2405e1a718",
    "kodim20": "5257e6846990df40507de4bd73ffbf4d4ddb286b70591c340261020be8652316",
    "kodim21": "faa4aa1dbfddfa8f5daffd12f03a1922b04077c68085114ed1d8782cc5da9b46",
    "kodim22": "fca2de3197b5076eaba1e0d430daab11472fb8a0f9bf9ca37b4fa11e20c1abf0",
    "kodim23": "0639ee5ecf10ec9c74c23cc18a3ca74662f91055ca1b35321b8b06179aafb43f",
    "kodim24": "5a0c71bca503d4da0abf74002cb30c97201b4ba59183c7d2c89e40f95bb6bbde",
}


@dataclass
class KodakSource:
    """The Kodak suite, from ``folder`` if given, else downloaded into ``cache_dir``."""

    folder: Path | None
    cache_dir: Path
    name: str = "kodak"
    license: str = LICENSE

    @property
    def spec(self) -> str:
        return f"kodak:{self.folder}" if self.folder else "kodak"

    def items(self) -> Iterator[SourceItem]:
        for stem, sha in KODAK_PIXEL_SHA256.items():
            if self.folder is not None:
                path = self.folder / f"{stem}.png"
                if not path.is_file():
                    raise SourceError(f"source {self.spec!r}: {path} is missing (expected kodim01.png ... kodim24.png)")
                yield SourceItem(source_id=f"{stem}.png", path=str(path), expected_pixel_sha256=sha)
            else:
                yield SourceItem(
                    source_id=f"{stem}.png",
                    url=f"{BASE_URL}{stem}.png",
                    expected_pixel_sha256=sha,
                    cache_dir=str(self.cache_dir / "kodak"),
                )


def open_kodak(arg: str | None) -> KodakSource:
    folder = arg or os.environ.get("PIXBENCH_KODAK_DIR") or None
    if folder is not None:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise SourceError(
                f"source 'kodak:{folder}': no such directory (it should hold kodim01.png ... kodim24.png)"
            )
        return KodakSource(path, default_cache_dir())
    return KodakSource(None, default_cache_dir())
