"""Numbers the literature publishes for a row of a table: the ``published`` column and its references.

A published file (``leaderboards/published.yaml``) lists, for a table stem, a model name and the
metadata values of a level (``where``; ``{}`` for the whole table), the metric values a paper
reports for that row under the same protocol, and the key of the paper in ``references``::

    version: 1
    references:
      fbcnn-t2: "Jiang, Zhang, Timofte: Towards Flexible Blind JPEG Artifacts Removal (FBCNN), ICCV 2021, Table 2"
    rows:
      - table: jpeg-gray-v1-folder-classic5
        model: identity
        where: {quality: 10}
        metrics: {psnr: 27.82, ssim: 0.760, psnr_b: 25.21}
        reference: fbcnn-t2

The leaderboard shows each value beside pixbench's own (a ``published`` column after the metric)
and lists the references under the table. The file is checked at the door: every error is one line.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pixbench.errors import PixbenchError

PUBLISHED_VERSION = 1
#: Header of the column that shows the literature's value beside a metric.
PUBLISHED = "published"
_ROW_KEYS = ("table", "model", "where", "metrics", "reference")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Largest published file read (it is text written by hand).
MAX_BYTES = 1 << 20


class PublishedFileError(PixbenchError):
    """A published-numbers file that cannot be read or breaks its format."""


class PublishedNumber(float):
    """A number as the file writes it: its value, and its ``text`` (``0.760`` keeps its last zero)."""

    text: str

    def __new__(cls, value: float, text: str) -> PublishedNumber:
        number = super().__new__(cls, value)
        number.text = text
        return number


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, keeping the text of every float so a table prints it as the paper does."""


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    value = loader.construct_yaml_float(node)
    return PublishedNumber(value, node.value) if math.isfinite(value) else value


_Loader.add_constructor("tag:yaml.org,2002:float", _float)


@dataclass(frozen=True)
class PublishedRow:
    """One row of a published file: a table's model, at a level, with the paper's values."""

    table: str
    model: str
    #: The level as ``(column, value)`` pairs, values as text (how breakdowns name them); ``()`` for the whole table.
    where: tuple[tuple[str, str], ...]
    metrics: dict[str, float]
    reference: str


@dataclass
class Published:
    """A published file: the references by key and the rows, in file order."""

    references: dict[str, str] = field(default_factory=dict)
    rows: list[PublishedRow] = field(default_factory=list)

    def values(self, table: str, where: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
        """Model name -> metric key -> published value, for one table stem at one level (``None``: the whole table)."""
        level = tuple(sorted((where or {}).items()))
        return {r.model: r.metrics for r in self.rows if r.table == table and r.where == level}

    def references_of(self, table: str, where: dict[str, str] | None = None) -> dict[str, str]:
        """The references the rows of one table at one level cite, in file order."""
        level = tuple(sorted((where or {}).items()))
        keys = dict.fromkeys(r.reference for r in self.rows if r.table == table and r.where == level)
        return {k: self.references[k] for k in keys}

    def tables(self) -> set[str]:
        return {r.table for r in self.rows}


def _fail(where: str, message: str) -> PublishedFileError:
    return PublishedFileError(f"--published {where}: {message}")


def _level_value(value: Any, at: str, where: str) -> str:
    """A ``where`` value as breakdowns name it: an integer or a string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise _fail(where, f"{at}: expected an integer or a non-empty string, got {value!r}")
    return str(value)


def _metric_value(value: Any, at: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(where, f"{at}: expected a finite number, got {value!r}")
    return value if isinstance(value, PublishedNumber) else PublishedNumber(value, str(value))


def _mapping(node: Any, at: str, where: str, *, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``node`` as a mapping with string keys (exactly ``keys`` when given), or one line saying what is wrong."""
    if not isinstance(node, dict) or not all(isinstance(k, str) for k in node):
        raise _fail(where, f"{at}: expected a mapping with string keys, got {type(node).__name__}")
    if keys is not None and set(node) != set(keys):
        extra, missing = sorted(set(node) - set(keys)), [k for k in keys if k not in node]
        what = f"unknown key {extra[0]!r}" if extra else f"missing key {missing[0]!r}"
        raise _fail(where, f"{at}: {what}; a row has exactly {', '.join(keys)}")
    return node


def _row(node: Any, i: int, references: dict[str, str], where: str) -> PublishedRow:
    at = f"rows[{i}]"
    node = _mapping(node, at, where, keys=_ROW_KEYS)
    for key in ("table", "model", "reference"):
        if not isinstance(node[key], str) or not node[key]:
            raise _fail(where, f"{at}.{key}: expected a non-empty string, got {node[key]!r}")
    if node["reference"] not in references:
        known = ", ".join(references) or "none"
        raise _fail(where, f"{at}.reference: {node['reference']!r} is not in references (known: {known})")
    level = _mapping(node["where"], f"{at}.where", where)
    values = _mapping(node["metrics"], f"{at}.metrics", where)
    if not values:
        raise _fail(where, f"{at}.metrics: expected at least one metric, e.g. {{psnr: 27.82}}")
    return PublishedRow(
        table=node["table"],
        model=node["model"],
        where=tuple(sorted((k, _level_value(v, f"{at}.where.{k}", where)) for k, v in level.items())),
        metrics={k: _metric_value(v, f"{at}.metrics.{k}", where) for k, v in values.items()},
        reference=node["reference"],
    )


def parse_published(doc: Any, *, where: str = "<published>") -> Published:
    """Check a decoded published file and return it (see the module docstring for the format).

    Raises:
        PublishedFileError: One line naming the file, the place in it, what was found and what is expected.
    """
    doc = _mapping(doc, "the file", where, keys=("version", "references", "rows"))
    if isinstance(doc["version"], bool) or doc["version"] != PUBLISHED_VERSION:
        raise _fail(where, f"version: expected {PUBLISHED_VERSION}, got {doc['version']!r}")
    references = _mapping(doc["references"], "references", where)
    for key, text in references.items():
        if not _KEY.match(key) or not isinstance(text, str) or not text.strip():
            raise _fail(where, f"references.{key}: expected a key like 'fbcnn-t2' naming a non-empty citation")
    if not isinstance(doc["rows"], list):
        raise _fail(where, f"rows: expected a list, got {type(doc['rows']).__name__}")
    rows = [_row(node, i, references, where) for i, node in enumerate(doc["rows"])]
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows):
        key = (row.table, row.model, row.where)
        if key in seen:
            raise _fail(where, f"rows[{i}] repeats rows[{seen[key]}] (table, model and where are the same)")
        seen[key] = i
    return Published(references=dict(references), rows=rows)


def read_published(path: str | os.PathLike) -> Published:
    """Read and check a published-numbers file (YAML).

    Raises:
        PublishedFileError: The file is missing, too large, not YAML, or breaks the format.
    """
    where = Path(path)
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise _fail(str(where), f"cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise _fail(str(where), f"{len(data)} bytes, more than the {MAX_BYTES} a published file may have")
    try:
        doc = yaml.load(data.decode("utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _fail(str(where), f"not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    return parse_published(doc, where=str(where))


def published_header(name: str) -> str:
    """The table key of the ``published`` column after metric column ``name`` (shown as ``published``)."""
    return f"{PUBLISHED}:{name}"


def shown_header(key: str) -> str:
    """How a table key is shown as a Markdown header: every ``published`` column reads ``published``."""
    return PUBLISHED if key.startswith(f"{PUBLISHED}:") else key


def published_text(value: float | None) -> str:
    """A published value as the file writes it (the paper's digits), or an empty cell."""
    if value is None:
        return ""
    return value.text if isinstance(value, PublishedNumber) else f"{value:g}"


def references_note(references: dict[str, str]) -> str:
    """The note under a table that says where its ``published`` values come from."""
    cited = "; ".join(f"[{key}] {text}".replace("|", "\\|") for key, text in references.items())
    return (
        "- published: the value the literature reports for this row under the same protocol, "
        f"beside pixbench's own (empty where none is published): {cited}."
    )
