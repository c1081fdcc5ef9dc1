"""The few exception types pixbench raises on purpose.

Domain code raises these; only ``pixbench.cli`` turns them into a red line and
exit code 1. Anything else that escapes is a bug in pixbench.
"""


class PixbenchError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class RecipeError(PixbenchError):
    """A recipe file is missing, malformed, or fails schema validation."""


class SourceError(PixbenchError):
    """An image source cannot be opened or listed."""


class ImageDecodeError(PixbenchError):
    """One image cannot be decoded (corrupt, truncated, not an image, too large).

    The builder counts these as skipped inputs rather than failing the run.
    """


class DatasetError(PixbenchError):
    """A dataset folder is missing, half-built, or was not built by pixbench."""


class ModelError(PixbenchError):
    """A model (ONNX file, checkpoint, or registry name) cannot be used as asked."""


class WeightsNotFoundError(PixbenchError):
    """Pretrained weights are needed but are not present locally and cannot be fetched."""


def check_format(
    doc: object, *, name: str, version: int, where: str, kind: str, error: type[PixbenchError], hint: str | None = None
) -> None:
    """Check the ``format`` / ``format_version`` header every pixbench file format starts with.

    Args:
        doc: The decoded file (a dict when it is a pixbench file).
        name: The expected ``format`` value.
        version: The ``format_version`` this pixbench reads.
        where: How messages name the file (its path, perhaps with a prefix).
        kind: What the file is, for messages ("dataset", "result file", "checkpoint").
        error: The exception type to raise.
        hint: What to say when the format is not ``name`` (default: the expected name).

    Raises:
        PixbenchError: ``error``, with a one-line message.
    """
    if not isinstance(doc, dict) or doc.get("format") != name:
        raise error(f"{where}: not a pixbench {kind} ({hint or f'format is not {name!r}'})")
    if doc.get("format_version") != version:
        raise error(
            f"{where}: format version {doc.get('format_version')!r} is not supported "
            f"(this pixbench reads {kind} version {version})"
        )


#: How many characters of a user's value an error message shows.
SHOWN_CHARS = 80


def shorten(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for a one-line error message, cut to ``limit`` characters plus its full length.

    ``repr`` escapes newlines and control characters, so the result is always one line.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters as text"
    return f"{text[:limit]}… ({size})"
