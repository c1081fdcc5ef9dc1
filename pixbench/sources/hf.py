"""``hf:REPO_ID[:split[:column]]``: a Hugging Face dataset, streamed with ``datasets``.

The image column is read undecoded (``Image(decode=False)``) so that the encoded
bytes go through pixbench's own decoder like every other source. ``REPO_ID`` may be
a Hub id (``BrandonLSX/coco-2017``) or a local folder that ``datasets`` can load
(parquet files, an imagefolder).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pixbench.errors import SourceError
from pixbench.sources.base import SourceItem
from pixbench.sources.urls import UNSPLASH_TERMS


@dataclass
class HubSource:
    """Rows of ``repo_id``'s ``split``, image bytes taken from ``column``."""

    repo_id: str
    split: str = "train"
    column: str | None = None

    @property
    def spec(self) -> str:
        return f"hf:{self.repo_id}:{self.split}" + (f":{self.column}" if self.column else "")

    @property
    def name(self) -> str:
        return f"hf:{self.repo_id}"

    @property
    def license(self) -> str:
        if "unsplash" in self.repo_id.lower():
            return UNSPLASH_TERMS
        return f"see the dataset card of {self.repo_id} (https://huggingface.co/datasets/{self.repo_id})"

    def _stream(self):
        import datasets

        try:
            ds = datasets.load_dataset(self.repo_id, split=self.split, streaming=True)
        except Exception as exc:  # datasets raises many types (hub, config, file errors)
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SourceError(f"source {self.spec!r}: cannot open the dataset: {first}") from None
        features = ds.features or {}
        column = self.column
        if column is None:
            images = [k for k, v in features.items() if isinstance(v, datasets.Image)]
            if not images:
                raise SourceError(
                    f"source {self.spec!r}: no image column; name one as hf:REPO:split:COLUMN "
                    f"(columns: {', '.join(features) or 'unknown'})"
                )
            column = images[0]
        elif features and column not in features:
            raise SourceError(f"source {self.spec!r}: no column {column!r} (columns: {', '.join(features)})")
        if column in features and isinstance(features[column], datasets.Image):
            ds = ds.cast_column(column, datasets.Image(decode=False))
        return ds, column

    def items(self) -> Iterator[SourceItem]:
        ds, column = self._stream()
        for index, row in enumerate(ds):
            value = row.get(column)
            source_id = f"{self.split}/{index:08d}"
            if isinstance(value, dict) and value.get("bytes"):
                yield SourceItem(source_id=source_id, data=value["bytes"])
            elif isinstance(value, dict) and value.get("path"):
                yield SourceItem(source_id=source_id, path=value["path"])
            elif isinstance(value, (bytes, bytearray)):
                yield SourceItem(source_id=source_id, data=bytes(value))
            else:  # an empty cell: let the builder count it as skipped
                yield SourceItem(source_id=source_id, data=b"")


def open_hf(arg: str | None) -> HubSource:
    if not arg:
        raise SourceError("source 'hf' needs a dataset: hf:REPO_ID[:split[:column]]")
    parts = arg.split(":")
    if len(parts) > 3 or not parts[0]:
        raise SourceError(f"source 'hf:{arg}': expected hf:REPO_ID[:split[:column]]")
    return HubSource(
        parts[0],
        parts[1] if len(parts) > 1 and parts[1] else "train",
        parts[2] if len(parts) > 2 and parts[2] else None,
    )
