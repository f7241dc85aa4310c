"""A receive buffer with a hard cap.

A ``recv()`` returns whatever the network delivered: part of a message, several
messages, or the end of one and the start of the next. Framers keep the bytes they
cannot use yet here. The cap is the promise that a peer can never make us hold more
than a configured amount, whatever it sends (compare h11's ``max_incomplete_event_size``
and asyncio's ``LimitOverrunError``).

Consumed bytes are dropped lazily: ``take`` advances an offset and the storage is
compacted only when the dead prefix is large, so reading many small messages out of one
big chunk stays linear.
"""

from __future__ import annotations

from hosepipe.errors import BufferOverflow

__all__ = ["ReceiveBuffer"]

_COMPACT_AT = 64 * 1024


class ReceiveBuffer:
    """Bytes received but not yet consumed, never more than ``cap`` of them."""

    __slots__ = ("_data", "_start", "cap")

    def __init__(self, cap: int) -> None:
        if cap <= 0:
            raise ValueError("the buffer cap must be positive")
        self.cap = cap
        self._data = bytearray()
        self._start = 0

    def __len__(self) -> int:
        return len(self._data) - self._start

    def __bytes__(self) -> bytes:
        return bytes(self._data[self._start :])

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes; raise :class:`BufferOverflow` past the cap."""
        if len(self) + len(data) > self.cap:
            raise BufferOverflow(f"more than {self.cap} bytes of input buffered")
        self._data += data

    def peek(self, n: int) -> bytes:
        """The first ``n`` unconsumed bytes (fewer if fewer are held)."""
        return bytes(self._data[self._start : self._start + n])

    def peek_last(self) -> bytes:
        """The last byte held, or ``b""``."""
        return bytes(self._data[-1:]) if len(self) else b""

    def find(self, sub: bytes, start: int = 0) -> int:
        """Index of ``sub`` relative to the unconsumed start, or -1."""
        index = self._data.find(sub, self._start + start)
        return -1 if index < 0 else index - self._start

    def take(self, n: int) -> bytes:
        """Remove and return the first ``n`` bytes (all of them if fewer are held)."""
        end = min(self._start + n, len(self._data))
        out = bytes(self._data[self._start : end])
        self._start = end
        if self._start == len(self._data):
            self._data.clear()
            self._start = 0
        elif self._start >= _COMPACT_AT:
            del self._data[: self._start]
            self._start = 0
        return out

    def take_all(self) -> bytes:
        return self.take(len(self))
