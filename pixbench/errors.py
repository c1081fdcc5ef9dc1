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
