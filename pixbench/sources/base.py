"""What every image source shares: the item it yields and how an item becomes pixels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pixbench.errors import ImageDecodeError
from pixbench.images import decode_image, pixel_sha256
from pixbench.sources.download import fetch_cached, show_url


@dataclass(frozen=True)
class SourceItem:
    """One source image, cheap to list and to send to a worker process.

    Exactly one of ``path``, ``data`` or ``url`` says where the encoded bytes are.

    Attributes:
        source_id: Stable, human-readable identity within the source (relative path, URL, row).
        path: A local file.
        data: The encoded bytes themselves (streamed sources).
        url: An ``http(s)`` URL, fetched through the download cache.
        expected_pixel_sha256: If set, the decoded pixels must have this hash.
        expected_file_sha256: If set, the downloaded bytes must have this hash.
        cache_dir: Where ``url`` items are cached.
        max_bytes: Download size limit for ``url`` items.
        deadline_s: Total download time limit for ``url`` items (``None``: the default).
    """

    source_id: str
    path: str | None = None
    data: bytes | None = None
    url: str | None = None
    expected_pixel_sha256: str | None = None
    expected_file_sha256: str | None = None
    cache_dir: str | None = None
    max_bytes: int | None = None
    deadline_s: float | None = None


class Source(Protocol):
    """A named, licensed, ordered collection of images."""

    spec: str
    name: str
    license: str

    def items(self) -> Iterator[SourceItem]:
        """Yield the images in a stable order (``--limit N`` takes the first N)."""
        ...


def load_pixels(item: SourceItem) -> np.ndarray:
    """Fetch and decode one item into ``HxWx3 uint8`` RGB.

    Raises:
        ImageDecodeError: The bytes are not a usable image, could not be fetched, or
            their hash differs from the expected one. The builder counts these as skipped.
    """
    if item.url is not None:
        path = fetch_cached(
            item.url,
            cache_dir=Path(item.cache_dir or "."),
            max_bytes=item.max_bytes,
            expected_sha256=item.expected_file_sha256,
            deadline_s=item.deadline_s,
        )
        try:
            pixels = decode_image(path)
        except ImageDecodeError as exc:  # name the URL the user listed, not the cache file
            raise ImageDecodeError(str(exc).replace(str(path), show_url(item.url))) from None
    elif item.data is not None:
        pixels = decode_image(item.data)
    elif item.path is not None:
        pixels = decode_image(item.path)
    else:
        raise ImageDecodeError(f"{item.source_id}: source item has no path, data or url")
    if item.expected_pixel_sha256 and pixel_sha256(pixels) != item.expected_pixel_sha256:
        raise ImageDecodeError(
            f"{item.source_id}: decoded pixels do not match the expected SHA-256 "
            f"{item.expected_pixel_sha256[:16]}... (a different or altered file)"
        )
    return pixels
