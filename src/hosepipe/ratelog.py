"""Warnings that may repeat many times a second (a flood of refused peers, accept
failing for lack of descriptors): logged at most once per interval per key, with a
count of what was suppressed, so that an attack cannot fill the disk with log lines."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["RateLimitedLog", "limit_log"]


class RateLimitedLog:
    """Log a recurring warning at most once per ``interval`` seconds, with a count."""

    def __init__(self, interval: float = 1.0, logger: logging.Logger | None = None) -> None:
        self.interval = interval
        self.log = logger or logging.getLogger("hosepipe.server")
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -1e9) < self.interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            extra = self._suppressed.pop(key, 0)
        suffix = f" ({extra} more like this suppressed)" if extra else ""
        self.log.warning(message + suffix, *args)


limit_log = RateLimitedLog()
"""The one shared by hosepipe's servers and services."""
