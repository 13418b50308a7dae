"""Text replies travel gzip-compressed to browsers that accept it.

A phone on a crowded workshop Wi-Fi loads the scan station, its scripts and the offline roster
(2,000 names are ~150 KB of JSON) before the first scan: compressed, that first load is a
fraction of the size. Pages, JSON, scripts and stylesheets are compressed; pictures, PDFs,
downloads, partial (Range) replies and streamed replies go as they are.
"""

from __future__ import annotations

import gzip
import os
import threading
from typing import NamedTuple

from flask import Flask, Response, current_app, request
from werkzeug.security import safe_join

__all__ = ["COMPRESSIBLE_TYPES", "MIN_SIZE", "gzip_bytes", "init_compression"]

# Besides every text/* type (except event streams, which are never buffered).
COMPRESSIBLE_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/manifest+json",
        "application/wasm",  # the QR reader: 1.1 MB, about 460 KB compressed
        "image/svg+xml",
    }
)
_NEVER = frozenset({"text/event-stream"})
# Smaller replies (a scan's answer is ~350 bytes) fit in one packet either way: compressing
# them would only add time to the scan path.
MIN_SIZE = 500
# Replies made per request use deflate's fast matcher: a 150 KB roster takes ~2.3 ms at level 3
# against ~4.6 ms at level 6 (measured on a 2-core laptop), for 6 % more bytes. Static files are
# compressed once and kept, so they get the smallest form.
REPLY_LEVEL = 3
STATIC_LEVEL = 9


def gzip_bytes(data: bytes, level: int = REPLY_LEVEL) -> bytes:
    """``data`` gzip-compressed; the same bytes every time (no timestamp in the header)."""
    return gzip.compress(data, compresslevel=level, mtime=0)


def _compressible(response: Response) -> bool:
    """Whether ``response`` is a whole text reply that compression would make smaller."""
    mimetype = response.mimetype or ""
    if mimetype in _NEVER:
        return False
    if not (mimetype.startswith("text/") or mimetype in COMPRESSIBLE_TYPES):
        return False
    if response.status_code != 200 or "Content-Encoding" in response.headers:
        return False
    # A Range request answered whole still advertises ranges of the uncompressed bytes.
    if "Content-Range" in response.headers:
        return False
    length = response.content_length
    return length is None or length > MIN_SIZE


class _CachedFile(NamedTuple):
    version: tuple[int, int]  # the file's mtime (ns) and size when it was compressed
    compressed: bytes


class _StaticCache:
    """Static files compressed once, kept in memory until the file on disk changes.

    Keyed by path; an entry holds the file's mtime and size, so an edited file is compressed
    again and the cache never holds more than one copy of each static file.
    """

    def __init__(self) -> None:
        self._files: dict[str, _CachedFile] = {}
        self._lock = threading.Lock()

    def compressed(self, path: str) -> bytes | None:
        """The gzip bytes of the file at ``path``, or None when it cannot be read."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        version = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._files.get(path)
        if cached is not None and cached.version == version:
            return cached.compressed
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        # Two threads may compress the same file at once: both get the same bytes.
        entry = _CachedFile(version, gzip_bytes(data, STATIC_LEVEL))
        with self._lock:
            self._files[path] = entry
        return entry.compressed


def _static_path() -> str | None:
    """The file a ``static`` endpoint reply sends, as send_from_directory found it."""
    folder = current_app.static_folder
    filename = (request.view_args or {}).get("filename")
    if folder is None or not filename:
        return None
    return safe_join(folder, filename)


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def _weak_etag(response: Response) -> None:
    """The compressed bytes are another representation: a strong ETag no longer names them
    byte for byte, a weak one still lets ``If-None-Match`` answer 304."""
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)


def _compress_reply(response: Response, cache: _StaticCache) -> Response:
    if not _compressible(response):
        return response
    if response.direct_passthrough:
        # A file sent by send_from_directory: only the app's own static files are compressed
        # (from the cache); X-Sendfile replies have no body here at all.
        if request.endpoint != "static" or "X-Sendfile" in response.headers:
            return response
        path = _static_path()
        if path is None:
            return response
        response.vary.add("Accept-Encoding")
        if not _accepts_gzip():
            return response
        compressed = cache.compressed(path)
        if compressed is None:
            return response
        original = response.response
        if hasattr(original, "close"):
            original.close()
        response.direct_passthrough = False
    else:
        if response.is_streamed:
            return response
        response.vary.add("Accept-Encoding")
        if not _accepts_gzip():
            return response
        data = response.get_data()
        if len(data) <= MIN_SIZE:
            return response
        compressed = gzip_bytes(data)
        if len(compressed) >= len(data):
            return response
    response.set_data(compressed)  # sets Content-Length too
    response.headers["Content-Encoding"] = "gzip"
    # Byte ranges would count the uncompressed file; the next request simply gets it whole.
    response.headers.pop("Accept-Ranges", None)
    _weak_etag(response)
    return response


def init_compression(app: Flask) -> None:
    """Compress every text reply for clients that send ``Accept-Encoding: gzip``."""
    cache = _StaticCache()

    @app.after_request
    def _compress(response: Response) -> Response:
        return _compress_reply(response, cache)
