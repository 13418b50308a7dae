"""A fixed-window request limit per client address, for the public verify pages.

Kept in memory, per server process: ``kitmanager serve`` is one process (waitress threads), so
the count is exact there, and a public page that anyone can hit must not write a database row
per request (that would let a stranger grow the database). A restart forgets the counts,
which only ever favours a legitimate reader.
"""

from __future__ import annotations

import math
import threading
import time

__all__ = ["FixedWindowLimiter"]


class FixedWindowLimiter:
    """At most ``limit`` hits per address in each window of ``window`` seconds."""

    # Beyond this many addresses the stale windows are swept, so memory stays bounded.
    _SWEEP_AT = 10_000

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, address: str, now: float | None = None) -> int:
        """Count one request from ``address``; 0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            start, count = self._hits.get(address, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            if count >= self.limit:
                return max(1, math.ceil(start + self.window - now))
            self._hits[address] = (start, count + 1)
            if len(self._hits) > self._SWEEP_AT:
                self._hits = {a: v for a, v in self._hits.items() if now - v[0] < self.window}
            return 0

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
