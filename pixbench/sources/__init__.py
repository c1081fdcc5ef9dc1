"""Where clean images come from. A source spec is ``NAME`` or ``NAME:ARGUMENT``.

``embedded`` (scikit-image's bundled photos), ``folder:PATH``,
``hf:REPO_ID[:split[:column]]``, ``urls:FILE`` and ``kodak[:PATH]``.
"""

from __future__ import annotations

from collections.abc import Callable

from pixbench.errors import SourceError
from pixbench.registry import Registry, UnknownNameError
from pixbench.sources.base import Source, SourceItem, load_pixels
from pixbench.sources.embedded import open_embedded
from pixbench.sources.folder import open_folder
from pixbench.sources.hf import open_hf
from pixbench.sources.kodak import open_kodak
from pixbench.sources.urls import open_urls

#: Source name -> factory taking the text after ``NAME:`` (or None).
SOURCES: Registry[Callable[[str | None], Source]] = Registry("source")
SOURCES.register("embedded", open_embedded)
SOURCES.register("folder", open_folder)
SOURCES.register("hf", open_hf)
SOURCES.register("urls", open_urls)
SOURCES.register("kodak", open_kodak)


def open_source(spec: str) -> Source:
    """Open a source from its spec, e.g. ``folder:photos`` or ``hf:user/repo:train:image``.

    Raises:
        SourceError: Unknown source name (with the closest names) or a bad argument.
    """
    name, sep, arg = spec.partition(":")
    try:
        factory = SOURCES.get(name)
    except UnknownNameError as exc:
        raise SourceError(f"--source {spec!r}: {exc}") from None
    return factory(arg if sep else None)


__all__ = ["SOURCES", "Source", "SourceItem", "load_pixels", "open_source"]
