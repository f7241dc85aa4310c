"""SHA-256 of served files, cached by (device, inode, size, mtime), shared across fork.

The hash is read from the same descriptor that will be sent (``os.pread``), so it
is the hash of what is served; the read also warms the page cache for ``sendfile``.
A file whose size or mtime changed gets a new entry.

The cache is a table in shared memory (a ``memfd`` mapped ``MAP_SHARED``), made when
the service is made, before any fork: every process of the server -- the fork model's
children included -- reads and writes the same table, so a file is hashed once, not
once per download. ``CAPACITY`` slots in sets of ``WAYS``: a key lives in the set its
hash picks, and a full set gives up its least recently used slot (a file's older
version goes first). Each lookup or store holds a ``lockf`` lock on the memfd (between
processes; released by the kernel if a holder dies) and a thread lock (between threads;
made anew in a forked child), for a few microseconds; hashing runs outside both, so
:meth:`ChecksumCache.sha256` may be called from any thread of any process at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import struct
import threading
import weakref
from collections.abc import Iterator

__all__ = ["ChecksumCache"]

CAPACITY = 4096
WAYS = 8
CHUNK = 1024 * 1024

_SLOT = struct.Struct("<QQqqQ32s")  # device, inode, size, mtime_ns, last use, digest
_CLOCK = struct.Struct("<Q")  # the table's use counter, at offset 0 (slot stamps are > 0)
Key = tuple[int, int, int, int]


class ChecksumCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.sets = max(1, capacity // WAYS)
        self.capacity = self.sets * WAYS
        self._fd = os.memfd_create("hosepipe-checksums", os.MFD_CLOEXEC)
        os.ftruncate(self._fd, _CLOCK.size + self.capacity * _SLOT.size)
        self._table = mmap.mmap(self._fd, 0, mmap.MAP_SHARED)
        self._lock = threading.Lock()
        renew = weakref.WeakMethod(self._renew_lock)
        os.register_at_fork(after_in_child=lambda: (m := renew()) and m())

    def _renew_lock(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def _slots(self, key: Key) -> range:
        first = hash(key[:2]) % self.sets * WAYS  # a file's versions share a set
        return range(first, first + WAYS)

    def _tick(self) -> int:
        (clock,) = _CLOCK.unpack_from(self._table, 0)
        _CLOCK.pack_into(self._table, 0, clock + 1)
        return clock + 1

    def _offset(self, slot: int) -> int:
        return _CLOCK.size + slot * _SLOT.size

    def lookup(self, key: Key) -> str | None:
        with self._locked():
            for slot in self._slots(key):
                *stored, _, digest = _SLOT.unpack_from(self._table, self._offset(slot))
                if tuple(stored) == key:
                    _SLOT.pack_into(self._table, self._offset(slot), *key, self._tick(), digest)
                    return digest.hex()
        return None

    def store(self, key: Key, value: str) -> None:
        with self._locked():
            self._put(key, bytes.fromhex(value))

    def _put(self, key: Key, digest: bytes) -> None:
        """Into the slot of the same file (an older version), else the least recently
        used one of the set (an empty slot has never been used)."""
        victim, oldest = -1, None
        for slot in self._slots(key):
            stored = _SLOT.unpack_from(self._table, self._offset(slot))
            if stored[:2] == key[:2]:
                victim = slot
                break
            if oldest is None or stored[4] < oldest:
                victim, oldest = slot, stored[4]
        _SLOT.pack_into(self._table, self._offset(victim), *key, self._tick(), digest)

    def sha256(self, fd: int, info: os.stat_result) -> str:
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self.lookup(key)
        if cached is not None:
            return cached
        digest = hashlib.sha256()
        offset = 0
        while chunk := os.pread(fd, CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
        value = digest.hexdigest()
        self.store(key, value)
        return value

    def close(self) -> None:
        """Unmap and close (in this process; others keep their own mapping)."""
        with contextlib.suppress(BufferError, ValueError):
            self._table.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)
