"""One direction of a relay: bytes from one end to the other, a bounded amount in flight.

A :class:`Direction` is driven by the relay's poll loop: ``on_readable`` when its source
may be read, ``on_writable`` when its destination may be written, and it says what it
waits for (``wants_read``, ``wants_write``). It never holds more than ``buffer`` bytes
(plus one datagram): when that much is read and not yet written it stops reading, so a
slow destination slows the source down instead of growing the relay's memory.

Two ways to hold the bytes:

* **splice** (zero-copy): a pipe of ``buffer`` bytes sits between the two ends;
  ``os.splice`` moves pages from the source into it and from it to the destination, and
  the bytes never enter Python. Any two plain sockets or pipes can do this; the pipe in
  the middle makes every call's ``EAGAIN`` unambiguous (the middle pipe never blocks the
  way we use it). If the kernel refuses (a terminal, say), the direction falls back to
  copying, without losing what the pipe already holds.
* **copy**: chunks read into Python and written out, kept in a deque. TLS ends need it
  (the bytes must be decrypted), datagram ends need it (each chunk is one datagram),
  and so does ``--dump``, which must see the bytes.

The source's end of stream, once everything held is delivered, becomes a half-close of
the destination. An error reading ends the direction the same way; an error writing ends
it at once (nothing more can be delivered) and the source is read no further.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import ssl
from collections import deque
from collections.abc import Callable

from hosepipe.errors import reason_of
from hosepipe.tools.ends import End

__all__ = ["Direction"]

CHUNK = 64 * 1024  # what one copying read asks for (a datagram is at most 64 KiB too)
ROUNDS = 8  # reads in a row while the destination keeps up, before poll is asked again
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError,
                ssl.SSLWantWriteError)
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)

OnData = Callable[[bytes, int], None]  # a chunk and its offset in this direction


def _middle_pipe(size: int) -> tuple[int, int, int] | None:
    """A non-blocking pipe of about ``size`` bytes and its real size; None without splice."""
    if not hasattr(os, "splice"):
        return None
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    with contextlib.suppress(OSError):  # over the user's pipe allowance: keep the default
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, size)
    return read_fd, write_fd, fcntl.fcntl(write_fd, fcntl.F_GETPIPE_SZ)


class Direction:
    """Moves bytes from ``src`` to ``dst``; see the module docstring."""

    def __init__(self, src: End, dst: End, *, buffer: int = 256 * 1024,
                 zero_copy: bool = True, on_data: OnData | None = None) -> None:
        self.src, self.dst = src, dst
        self.capacity = buffer
        self.on_data = on_data
        self.moved = 0  # bytes delivered to dst
        self.spliced = 0  # ... of which the kernel moved without a copy
        self.read = 0  # bytes taken from src
        self.eof = False  # the source will give no more
        self.done = False  # ... and everything held was delivered (or cannot be)
        self.error: str | None = None
        self._held = 0  # read and not yet written
        self._chunks: deque[memoryview] = deque()
        self._pipe: tuple[int, int, int] | None = None
        self._slots_full = False  # the middle pipe refused more while holding bytes
        if zero_copy and on_data is None and src.spliceable and dst.spliceable:
            self._pipe = _middle_pipe(buffer)
            if self._pipe is not None:
                self.capacity = min(buffer, self._pipe[2])

    def wants_read(self) -> bool:
        return not self.eof and self._held < self.capacity and not self._slots_full

    def wants_write(self) -> bool:
        return (self._held > 0 or bool(self._chunks)) and not self.done

    def on_readable(self) -> None:
        """Read what is there and pass it on at once; again, a few rounds, while the
        destination takes everything (each round saves a trip through poll)."""
        for _ in range(1 if self.src.shared else ROUNDS):  # a blocking read must be polled
            if not self._read_once():
                return
            self.on_writable()
            if self.eof or self._held:  # ended, or the destination is full
                return

    def _read_once(self) -> bool:
        """One read; False if nothing was there (end of stream and errors count as read)."""
        try:
            count = self._splice_in() if self._pipe else self._copy_in()
        except _WOULD_BLOCK:
            # a pipe counts slots, not bytes: small segments can fill it early, and then
            # only a write makes room (else poll would report the source for ever)
            self._slots_full = self._pipe is not None and self._held > 0
            return False
        except OSError as exc:
            if self._pipe and exc.errno == errno.EINVAL and not self.read:
                self._stop_splicing()
                return self._read_once()
            self._ended(f"{self.src.label}: {reason_of(exc)}")
            count = 0
        if count == 0:
            self.eof = self.src.saw_eof = True
        return True

    def _splice_in(self) -> int:
        assert self._pipe is not None
        count = os.splice(self.src.read_fd, self._pipe[1], self.capacity - self._held,
                          flags=_SPLICE_FLAGS)
        self._took(count)
        return count

    def _copy_in(self) -> int:
        data = self.src.read(min(CHUNK, self.capacity - self._held) if not self.src.datagram
                             else CHUNK)
        if self.on_data is not None and data:
            self.on_data(data, self.read)
        if data or self.dst.datagram:  # an empty datagram is a datagram
            self._chunks.append(memoryview(data))
        self._took(len(data))
        return 1 if self.src.datagram else len(data)  # a datagram end never ends

    def _took(self, count: int) -> None:
        self._held += count
        self.read += count

    def on_writable(self) -> None:
        """Write what is held; finish once the source has ended and nothing is left."""
        try:
            while self._held or self._chunks:
                count = self._splice_out() if self._pipe else self._copy_out()
                self._held -= count
                self.moved += count
                self._slots_full = False
        except _WOULD_BLOCK:
            return
        except OSError as exc:
            if self._pipe and exc.errno == errno.EINVAL and not self.moved:
                self._stop_splicing()
                return self.on_writable()
            self._failed(f"{self.dst.label}: {reason_of(exc)}")
            return
        if self.eof and not self.done:
            self._finish()

    def _splice_out(self) -> int:
        assert self._pipe is not None
        count = os.splice(self._pipe[0], self.dst.write_fd, self._held, flags=_SPLICE_FLAGS)
        self.spliced += count
        return count

    def _copy_out(self) -> int:
        chunk = self._chunks[0]
        count = self.dst.write(chunk)
        if self.dst.datagram or count == len(chunk):
            self._chunks.popleft()
            return len(chunk)
        self._chunks[0] = chunk[count:]
        return count

    def _stop_splicing(self) -> None:
        """The kernel cannot splice these ends: copy instead, keeping what is held."""
        assert self._pipe is not None
        left = self._held
        while left:  # the pipe holds exactly that many bytes
            data = os.read(self._pipe[0], left)
            self._chunks.append(memoryview(data))
            left -= len(data)
        self._close_pipe()

    def _ended(self, error: str) -> None:
        """The source failed: deliver what is held, then half-close as at end of stream."""
        self.error = self.error or error
        self.eof = True

    def _failed(self, error: str) -> None:
        """The destination failed: nothing more can be delivered; read no further."""
        self.error = self.error or error
        self.eof = True
        self._held = 0
        self._chunks.clear()
        self._finish()

    def _finish(self) -> None:
        self.done = True
        self._close_pipe()
        self.dst.shutdown_write()

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            os.close(self._pipe[0])
            os.close(self._pipe[1])
            self._pipe = None

    def close(self) -> None:
        """Release the middle pipe (the relay closes the ends)."""
        self._close_pipe()
