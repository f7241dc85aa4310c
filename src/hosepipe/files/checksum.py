"""SHA-256 of served files, cached by (device, inode, size, mtime).

The hash is read from the same descriptor that will be sent (``os.pread``), so it
is the hash of what is served; the read also warms the page cache for ``sendfile``.
A file whose size or mtime changed gets a new entry; the cache holds at most
``CAPACITY`` entries (least recently used go first). The cache is per process: under
the fork model each child starts from the parent's cache as it was at the fork.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

__all__ = ["ChecksumCache"]

CAPACITY = 4096
CHUNK = 1024 * 1024


class ChecksumCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._cache: OrderedDict[tuple[int, int, int, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def sha256(self, fd: int, info: os.stat_result) -> str:
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        digest = hashlib.sha256()
        offset = 0
        while chunk := os.pread(fd, CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
        value = digest.hexdigest()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return value
