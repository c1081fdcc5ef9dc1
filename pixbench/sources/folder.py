"""``folder:PATH``: every file under a directory tree, in sorted relative-path order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pixbench.errors import SourceError
from pixbench.sources.base import SourceItem


@dataclass
class FolderSource:
    """All regular files under ``root`` (hidden files and folders skipped).

    Every file is offered, not only those with image suffixes, so a stray
    non-image shows up in the dataset's ``skipped`` list instead of vanishing.
    """

    root: Path
    license: str = "as set by the owner of the folder's images (not known to pixbench)"

    @property
    def spec(self) -> str:
        return f"folder:{self.root}"

    @property
    def name(self) -> str:
        return f"folder:{self.root.name}"

    def items(self) -> Iterator[SourceItem]:
        files = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            files.append(rel.as_posix())
        for rel in sorted(files):
            yield SourceItem(source_id=rel, path=str(self.root / rel))


def open_folder(arg: str | None) -> FolderSource:
    if not arg:
        raise SourceError("source 'folder' needs a path: folder:PATH")
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise SourceError(f"source 'folder:{arg}': no such directory")
    return FolderSource(root)
