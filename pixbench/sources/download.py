"""A small download cache: http(s) only, size- and time-limited, hash-recorded, atomic.

Nothing reaches the cache until the whole body has arrived within the deadline, matches its
``Content-Length``, fits the size limit and matches the expected hash; a bad download is
therefore never cached, and the next build tries again. Every error names the URL (cut to
a readable length), never the local cache path.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pixbench.errors import SHOWN_CHARS, ImageDecodeError, shorten
from pixbench.images import write_bytes_atomic

#: Default per-file download limit. The largest photos in HQ-50K / Unsplash Lite
#: originals are a few tens of MB; anything far above that is refused.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Longest wait for a connection or for the next bytes from the server.
SOCKET_TIMEOUT_S = 30
#: Total time one download may take, redirects included: a server that trickles a byte every few
#: seconds (so the socket timeout never fires) is cut off here.
DEFAULT_DEADLINE_S = 300.0
#: Longest URL fetched (browsers and servers commonly stop near 2,000 characters).
MAX_URL_CHARS = 2048
#: Most redirects followed for one URL.
MAX_REDIRECTS = 5


def default_cache_dir() -> Path:
    """``$PIXBENCH_CACHE`` or ``~/.cache/pixbench``."""
    env = os.environ.get("PIXBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pixbench"


def cache_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def show_url(url: str) -> str:
    """The URL as messages print it: itself when short and printable, else a cut ``repr``."""
    return url if len(url) <= SHOWN_CHARS and url.isprintable() else shorten(url)


def url_problem(url: str) -> str | None:
    """Why ``url`` will not be fetched, or ``None`` for a well-formed http(s) URL."""
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    if not url.isascii():
        return "contains non-ASCII characters (percent-encode them)"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "contains spaces or control characters (percent-encode them)"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "only http:// and https:// URLs are fetched"
    if not parts.hostname:
        return "no host name (expected http://host/path)"
    return None


def fetch_cached(
    url: str,
    *,
    cache_dir: Path,
    max_bytes: int | None = None,
    expected_sha256: str | None = None,
    deadline_s: float | None = None,
) -> Path:
    """Return a local copy of ``url``, downloading it once.

    The file lands in ``cache_dir/<sha256(url)[:40]>``, beside a ``.json`` record of the
    URL, size and SHA-256 of the bytes. A cached file whose bytes no longer match its
    record (or whose record is unreadable) is downloaded again.

    Args:
        url: An http(s) URL.
        cache_dir: The cache folder.
        max_bytes: Size limit (default :data:`DEFAULT_MAX_BYTES`).
        expected_sha256: If set, the bytes must have this SHA-256.
        deadline_s: Total time for the download (default :data:`DEFAULT_DEADLINE_S`).

    Raises:
        ImageDecodeError: A malformed or non-http(s) URL, a network or HTTP error, a body shorter than
            its Content-Length, larger than ``max_bytes``, slower than the deadline, or bytes that
            differ from ``expected_sha256``. Nothing is cached then; the builder skips the item.
    """
    problem = url_problem(url)
    if problem:
        raise ImageDecodeError(f"{show_url(url)}: {problem}")
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    key = cache_key(url)
    path, record = cache_dir / key, cache_dir / f"{key}.json"
    cached = _cached_sha256(path, record)
    if cached is not None:
        _check_expected(url, cached, expected_sha256)
        return path
    data = _download(url, limit, DEFAULT_DEADLINE_S if deadline_s is None else deadline_s)
    digest = _sha256(data)
    _check_expected(url, digest, expected_sha256)
    write_bytes_atomic(path, data)
    meta = {"url": url, "bytes": len(data), "sha256": digest}
    write_bytes_atomic(record, json.dumps(meta, sort_keys=True).encode())
    return path


def _cached_sha256(path: Path, record: Path) -> str | None:
    """The SHA-256 of a cached file whose bytes match its record, else ``None`` (download again)."""
    try:
        if not (path.is_file() and record.is_file()):
            return None
        meta = json.loads(record.read_text(encoding="utf-8"))
        digest = _sha256(path.read_bytes())
    except (OSError, ValueError):  # an unreadable or half-written record is no cache entry
        return None
    return digest if isinstance(meta, dict) and digest == meta.get("sha256") else None


def _one_line(text: object) -> str:
    """A server's or the network's reason on one line, cut to a readable length."""
    line = " ".join(str(text).split())
    return line if len(line) <= SHOWN_CHARS else f"{line[:SHOWN_CHARS]}… ({len(line)} characters)"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_expected(url: str, got: str, expected: str | None) -> None:
    if expected and got != expected.lower():
        raise ImageDecodeError(
            f"{show_url(url)}: downloaded bytes have SHA-256 {got[:16]}..., expected {expected[:16]}..."
        )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows at most :data:`MAX_REDIRECTS` redirects, and only to well-formed http(s) URLs."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        problem = url_problem(newurl)
        if problem:
            fp.close()
            raise ImageDecodeError(
                f"{show_url(req.full_url)}: redirected to {show_url(newurl)}, which is not fetched: {problem}"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _download(url: str, limit: int, deadline_s: float) -> bytes:
    shown = show_url(url)
    deadline = time.monotonic() + deadline_s
    opener = urllib.request.build_opener(_CheckedRedirects)
    request = urllib.request.Request(url, headers={"User-Agent": "pixbench"})
    chunks: list[bytes] = []
    total = 0
    try:
        with opener.open(request, timeout=max(0.1, min(SOCKET_TIMEOUT_S, deadline_s))) as resp:
            length = (resp.headers.get("Content-Length") or "").strip()
            expected = int(length) if length.isdigit() else None
            if expected is not None and expected > limit:
                raise ImageDecodeError(f"{shown}: {expected} bytes exceeds the download limit of {limit}")
            # Bounded: every pass adds at least one byte (up to ``limit``) or ends, and the clock is checked.
            while True:
                if time.monotonic() > deadline:
                    raise ImageDecodeError(
                        f"{shown}: download took longer than its deadline of {deadline_s:g} s "
                        f"({total} bytes received); nothing was cached"
                    )
                chunk = resp.read1(1 << 16)  # read1: returns what has arrived, so the clock is seen
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise ImageDecodeError(f"{shown}: more than the download limit of {limit} bytes")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ImageDecodeError(f"{shown}: HTTP {exc.code} {_one_line(exc.reason)}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ImageDecodeError(f"{shown}: download failed: {_one_line(reason) or type(exc).__name__}") from None
    if expected is not None and total != expected:
        raise ImageDecodeError(
            f"{shown}: truncated download: {total} of the {expected} bytes its Content-Length "
            "announced; nothing was cached"
        )
    return b"".join(chunks)
