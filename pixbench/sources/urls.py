"""``urls:FILE``: a list of image URLs (one per line, or a TSV with a header), cached locally.

This is how HQ-50K and Unsplash Lite are distributed. A plain list has one URL per
line (``#`` comments allowed), optionally followed by a tab and the expected SHA-256
of the file. A TSV has a header row; the URL column is the first of ``url``,
``photo_image_url``, ``image_url``, the optional hash column is ``sha256`` and the
optional id column is the first of ``id``, ``photo_id`` (a row with an empty id is known by its URL).
Ids should be unique: the builder builds the first image of an id and skips the later ones,
naming both URLs in the dataset's ``skipped`` list.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pixbench.errors import SourceError
from pixbench.sources.base import SourceItem
from pixbench.sources.download import DEFAULT_DEADLINE_S, DEFAULT_MAX_BYTES, default_cache_dir

URL_COLUMNS = ("url", "photo_image_url", "image_url")
ID_COLUMNS = ("id", "photo_id")
UNSPLASH_TERMS = (
    "Unsplash License: the photos may be used freely, but they may NOT be "
    "redistributed as a collection or dataset; do not publish this folder"
)


@dataclass
class UrlListSource:
    """Images listed by URL in ``list_file``, downloaded once into ``cache_dir``."""

    list_file: Path
    cache_dir: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    deadline_s: float = DEFAULT_DEADLINE_S

    @property
    def spec(self) -> str:
        return f"urls:{self.list_file}"

    @property
    def name(self) -> str:
        return f"urls:{self.list_file.name}"

    @property
    def license(self) -> str:
        if "unsplash" in self.list_file.name.lower():
            return UNSPLASH_TERMS
        return "as set by the owners of the listed URLs (see where the list came from)"

    def items(self) -> Iterator[SourceItem]:
        try:
            rows = list(self._rows())
        except csv.Error as exc:  # e.g. a field over csv's size limit
            raise SourceError(f"source 'urls:{self.list_file}': not a readable URL list: {exc}") from None
        for source_id, url, sha in rows:
            yield SourceItem(
                source_id=source_id,
                url=url,
                expected_file_sha256=sha or None,
                cache_dir=str(self.cache_dir / "urls"),
                max_bytes=self.max_bytes,
                deadline_s=self.deadline_s,
            )

    def _rows(self) -> Iterator[tuple[str, str, str]]:
        with open(self.list_file, encoding="utf-8", newline="") as fh:
            first = fh.readline()
            header = [c.strip().lower() for c in first.rstrip("\r\n").split("\t")]
            url_col = next((header.index(c) for c in URL_COLUMNS if c in header), None)
            if url_col is None:  # a plain list: the first line is data
                fh.seek(0)
                for line in fh:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        url, _, sha = line.partition("\t")
                        yield url.strip(), url.strip(), sha.strip()
                return
            id_col = next((header.index(c) for c in ID_COLUMNS if c in header), None)
            sha_col = header.index("sha256") if "sha256" in header else None
            for row in csv.reader(fh, delimiter="\t"):
                if len(row) <= url_col or not row[url_col].strip():
                    continue
                url = row[url_col].strip()
                # an empty id cell would give every such row the id "": the URL is the id then
                rid = (row[id_col].strip() if id_col is not None and len(row) > id_col else "") or url
                sha = row[sha_col].strip() if sha_col is not None and len(row) > sha_col else ""
                yield rid, url, sha


def open_urls(arg: str | None) -> UrlListSource:
    if not arg:
        raise SourceError("source 'urls' needs a list file: urls:FILE")
    path = Path(arg).expanduser()
    if not path.is_file():
        raise SourceError(f"source 'urls:{arg}': no such file")
    try:  # a list is text: check it here, not halfway through a build
        raw = path.read_bytes()
        raw.decode("utf-8")
    except OSError as exc:
        raise SourceError(f"source 'urls:{arg}': cannot read the list: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"source 'urls:{arg}': the list is not UTF-8 text (byte at offset {exc.start})") from None
    if b"\0" in raw:
        raise SourceError(
            f"source 'urls:{arg}': the list contains a NUL byte at offset {raw.index(bytes(1))}; "
            "expected one URL per line or a TSV"
        )
    return UrlListSource(path, default_cache_dir())
