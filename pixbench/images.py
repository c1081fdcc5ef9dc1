"""The one door for pixels: decoding, mode conversion, and lossless encoding.

Every image that enters pixbench goes through :func:`decode_image`, so there is
exactly one rule for turning whatever a file holds into an ``HxWx3 uint8`` RGB
array. Every image pixbench writes goes through :func:`write_png`, which is
atomic (temporary file, then rename) and byte-deterministic.

The conversion rule (documented in ``docs/recipes.md``):

1. The EXIF orientation tag is applied, then dropped.
2. 16-bit and 32-bit integer greyscale (``I;16``, ``I``) is scaled to 8 bits by
   its nominal range (``>> 8`` for 16-bit); float (``F``) is clipped to [0, 255].
3. Modes with alpha (``LA``, ``RGBA``, ``PA``, ``P`` with transparency) are
   composited onto opaque white.
4. ``CMYK``, ``YCbCr``, ``L``, ``P``, ``1`` and the rest use Pillow's ``convert("RGB")``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pixbench.errors import ImageDecodeError

#: Largest image pixbench will decode (width x height). Bigger files are treated
#: as decompression bombs and skipped. 100 MP is larger than any camera photo
#: in the usual benchmark sources and well under what 24 GiB of RAM can hold.
MAX_PIXELS = 100_000_000


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The process's umask, read once at import (reading it means setting it, which is not thread-safe).
_UMASK = _read_umask()


def decode_image(data: bytes | str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file (path or bytes) into an ``HxWx3 uint8`` RGB array.

    Args:
        data: Encoded bytes, or a path to an image file.
        max_pixels: Images with more pixels than this are refused.

    Returns:
        A C-contiguous ``(H, W, 3)`` ``uint8`` array.

    Raises:
        ImageDecodeError: The file is empty, truncated, not an image, or too large.
    """
    name = "<bytes>" if isinstance(data, bytes) else str(data)
    if isinstance(data, bytes):
        if not data:
            raise ImageDecodeError(f"{name}: empty file (0 bytes)")
        fp: io.BytesIO | str | os.PathLike = io.BytesIO(data)
    else:
        try:
            size = os.path.getsize(data)
        except OSError as exc:
            raise ImageDecodeError(f"{name}: cannot read file: {exc.strerror or exc}") from None
        if size == 0:
            raise ImageDecodeError(f"{name}: empty file (0 bytes)")
        fp = data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageDecodeError(
                        f"{name}: {w}x{h} = {w * h} pixels exceeds the limit of {max_pixels} (decompression bomb guard)"
                    )
                img.load()
                return to_rgb_array(img)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{name}: decompression bomb guard: {exc}") from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageDecodeError(f"{name}: cannot decode image: {reason}") from None


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Apply pixbench's one mode-conversion rule to a loaded Pillow image."""
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.uint16)
        grey = (arr >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if mode == "I":
        arr = np.asarray(img, dtype=np.int64)
        top = 65535 if arr.max(initial=0) > 255 else 255
        grey = np.clip(arr * 255 // top, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if mode == "F":
        grey = np.clip(np.asarray(img, dtype=np.float64), 0, 255).round().astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG that pixbench wrote (RGB -> ``HxWx3``; L -> ``HxW``), as uint8."""
    with Image.open(path) as img:
        img.load()
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def encode_png(array: np.ndarray, *, compress_level: int = 6) -> bytes:
    """Encode an ``HxWx3`` or ``HxW`` uint8 array as PNG bytes, with no metadata chunks."""
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"expected an HxWx3 or HxW uint8 image, got shape {array.shape} {array.dtype}")
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """The one atomic writer: yield a temporary path beside ``path``; rename it over ``path`` on success.

    Whatever writes the file (``open``, ``torch.save``, ``onnx.save``) writes to the yielded
    path. If the block raises, the temporary file is removed and ``path`` is left as it was,
    so a reader never sees a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); the result gets the permissions any other tool would give it.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Atomically write ``array`` as a deterministic PNG (see :func:`encode_png`)."""
    write_bytes_atomic(path, encode_png(array))


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in chunks (a large file is never held in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pixel_sha256(array: np.ndarray) -> str:
    """SHA-256 of decoded pixels (shape included), independent of the file's encoding.

    Two files that decode to the same pixels (a PNG and its re-save with other
    compression settings) get the same hash; this is the identity a source image has
    in a dataset, and what its per-sample seeds derive from.
    """
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {array.shape} {array.dtype}")
    digest = hashlib.sha256(f"{array.shape[0]}x{array.shape[1]}x3:".encode())
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()
