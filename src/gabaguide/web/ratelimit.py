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
        now = self.clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                self._hits = {
                    k: q for k, q in self._hits.items() if q and q[-1] > now - self.window_s
                }
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True
