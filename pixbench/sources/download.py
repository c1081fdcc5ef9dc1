"""A small download cache: http(s) only, size-limited, hash-recorded, atomic."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from pixbench.errors import ImageDecodeError
from pixbench.images import write_bytes_atomic

#: Default per-file download limit. The largest photos in HQ-50K / Unsplash Lite
#: originals are a few tens of MB; anything far above that is refused.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
TIMEOUT_S = 60


def default_cache_dir() -> Path:
    """``$PIXBENCH_CACHE`` or ``~/.cache/pixbench``."""
    env = os.environ.get("PIXBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pixbench"


def cache_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:40]


def fetch_cached(url: str, *, cache_dir: Path, max_bytes: int | None = None,
                 expected_sha256: str | None = None) -> Path:
    """Return a local copy of ``url``, downloading it once.

    The file lands in ``cache_dir/<sha256(url)[:40]>``, beside a ``.json`` record of the
    URL, size and SHA-256 of the bytes. A cached file whose bytes no longer match its
    record is downloaded again.

    Raises:
        ImageDecodeError: Not http(s), a network or HTTP error, larger than ``max_bytes``,
            or bytes that differ from ``expected_sha256``. The builder skips the item.
    """
    if not url.startswith(("http://", "https://")):
        raise ImageDecodeError(f"{url}: only http:// and https:// URLs are fetched")
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    key = cache_key(url)
    path, record = cache_dir / key, cache_dir / f"{key}.json"
    if path.is_file() and record.is_file():
        meta = json.loads(record.read_text(encoding="utf-8"))
        if _sha256(path.read_bytes()) == meta.get("sha256"):
            _check_expected(url, meta["sha256"], expected_sha256)
            return path
    data = _download(url, limit)
    digest = _sha256(data)
    _check_expected(url, digest, expected_sha256)
    write_bytes_atomic(path, data)
    meta = {"url": url, "bytes": len(data), "sha256": digest}
    write_bytes_atomic(record, json.dumps(meta, sort_keys=True).encode())
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_expected(url: str, got: str, expected: str | None) -> None:
    if expected and got != expected.lower():
        raise ImageDecodeError(f"{url}: downloaded bytes have SHA-256 {got[:16]}..., expected {expected[:16]}...")


def _download(url: str, limit: int) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "pixbench"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:  # noqa: S310 (scheme checked above)
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise ImageDecodeError(f"{url}: {int(length)} bytes exceeds the download limit of {limit}")
            chunks, total = [], 0
            while chunk := resp.read(1 << 16):
                total += len(chunk)
                if total > limit:
                    raise ImageDecodeError(f"{url}: more than the download limit of {limit} bytes")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise ImageDecodeError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ImageDecodeError(f"{url}: download failed: {reason}") from None
    return b"".join(chunks)
