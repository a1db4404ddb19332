"""A sliding-window limit per client address, kept in memory only (addresses are never stored)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from threading import Lock


class RateLimiter:
    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = Lock()

    def allow(self, key: str) -> bool:
        """Count one hit for ``key``; False when it already had ``limit`` in the window."""
        if self.limited(key):
            return False
        self.hit(key)
        return True

    def limited(self, key: str) -> bool:
        """Has ``key`` used up its hits in the window? (Counts nothing.)"""
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def hit(self, key: str) -> None:
        """Count one hit for ``key`` (e.g. a failed log-in)."""
        with self._lock:
            self._recent(key).append(self.clock())

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
            self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - self.window_s}
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits
