"""What every transport gives the rest of hosepipe: streams, listeners and endpoints.

A :class:`Stream` is one connected byte stream, whatever carries it (a socket, a pair
of pipes or FIFOs, a serial line, our own stdio). It has two faces:

* blocking, with deadlines, for the models that give a connection a thread:
  :meth:`Stream.receive_some` returns what arrived (``b""`` at end of stream) or raises
  :class:`~hosepipe.errors.Timeout`; :meth:`Stream.send_all` writes everything or raises;
* non-blocking, for the models that drive many connections in one loop
  (:attr:`Stream.nonblocking` says whether the stream may be switched to it; a
  descriptor shared with other processes, like our stdio, may not): ``*_nowait``
  methods that raise :class:`BlockingIOError` when they would wait, and
  :attr:`Stream.read_fd` / :attr:`Stream.write_fd` to register in a selector.

A server binding is either a :class:`Listener` (many connections: sockets, a FIFO's
well-known path) or an :class:`Endpoint` (one conversation at a time on one stream:
``stdio:``, a serial line), opened again when its conversation ends if it ``rearms``.
OS errors leave this package translated into :mod:`hosepipe.errors`.
"""

from __future__ import annotations

import os
import socket

__all__ = ["FILE_CHUNK", "Endpoint", "Listener", "Stream"]

FILE_CHUNK = 1024 * 1024


class Stream:
    """A connected byte stream. Subclasses implement the primitives they support."""

    peer: str = "-"
    read_fd: int = -1
    """The descriptor to wait on for bytes from the peer."""
    write_fd: int = -1
    """The descriptor to wait on for room to send (the same as ``read_fd`` for sockets)."""
    nonblocking: bool = True
    """True if the stream may be switched to non-blocking mode (we own its descriptors)."""
    zero_copy: bool = False
    """True if :meth:`send_file_nowait` goes from the page cache to the peer (sendfile)."""

    # -- blocking, with deadlines ------------------------------------------------------
    def receive_some(self, timeout: float | None) -> bytes:
        raise NotImplementedError

    def receive_into(self, buffer: memoryview, timeout: float | None) -> int:
        """Receive into ``buffer``; how many bytes (0 at end of stream)."""
        raise NotImplementedError

    def send_all(self, data: bytes | memoryview, timeout: float | None) -> None:
        raise NotImplementedError

    def send_file(self, fd: int, offset: int, count: int, timeout: float | None) -> int:
        """Send ``count`` bytes of open file ``fd`` from ``offset``; returns bytes sent.

        The default copies through :meth:`send_all`; sockets override it with sendfile.
        A file that shrank underneath us ends the region early.
        """
        sent = 0
        while sent < count:
            chunk = os.pread(fd, min(count - sent, FILE_CHUNK), offset + sent)
            if not chunk:
                break
            self.send_all(chunk, timeout)
            sent += len(chunk)
        return sent

    def buffered(self) -> bool:
        """True if received bytes wait inside this object (TLS records already
        decrypted), so that waiting on :attr:`read_fd` would not see them."""
        return False

    # -- non-blocking -------------------------------------------------------------------
    def set_blocking(self, flag: bool) -> None:
        """Switch between the blocking and the non-blocking face."""
        raise NotImplementedError

    def receive_nowait(self, buffer: memoryview) -> int:
        """Receive into ``buffer`` what is there (0: end of stream); raises
        :class:`BlockingIOError` if nothing is."""
        raise NotImplementedError

    def send_nowait(self, data: bytes | memoryview) -> int:
        """Send what the transport takes now (maybe 0 bytes, or BlockingIOError)."""
        raise NotImplementedError

    def send_views_nowait(self, views: list[memoryview]) -> int:
        """Send several buffers at once, as far as the transport takes them."""
        return self.send_nowait(b"".join(views))

    def send_file_nowait(self, fd: int, offset: int, count: int) -> int:
        """Send part of a file region now; 0 if the file has no more bytes there."""
        chunk = os.pread(fd, min(count, FILE_CHUNK), offset)
        return self.send_nowait(chunk) if chunk else 0

    # -- ending --------------------------------------------------------------------------
    def send_eof(self) -> None:
        """No more bytes from us; the peer still may send."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """From another thread: make a blocked receive return at once."""
        self.close()

    def cut_watch(self) -> tuple[int, int] | None:
        """A descriptor and the ``poll`` events that say this stream was cut by
        :meth:`abort` (or its peer reset it), for a thread that waits without reading;
        None if the stream has no such descriptor."""
        return None

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Listener:
    """Where a server waits for connections (many, concurrently)."""

    bound: str = "-"
    """The address actually bound, for people (port 0 replaced by the real port)."""
    sock: socket.socket | None = None
    """The listening (or datagram) socket, for socket listeners; None otherwise."""
    is_datagram: bool = False

    def fileno(self) -> int:
        """Readable when :meth:`accept_nowait` may have a connection."""
        raise NotImplementedError

    def accept_nowait(self) -> tuple[Stream, str] | None:
        """A new connection and its peer's name, or None if none is waiting. Raises
        OSError for accept failures (the caller backs off on running out of fds)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop listening and remove what was created (a socket file, a FIFO)."""
        raise NotImplementedError

    def forget(self) -> None:
        """In a forked child: close our copy, leaving the parent's files alone."""
        self.close()


class Endpoint:
    """One stream served one conversation at a time (``stdio:``, a serial line)."""

    bound: str = "-"
    rearms: bool = False
    """True: open it again when a conversation ends (a serial line); False: the binding
    is done after one conversation (stdio)."""
    retry: float = 1.0
    """Seconds between attempts while :meth:`open` fails (a device unplugged), and the
    least time between the starts of two conversations."""

    def open(self) -> tuple[Stream, str]:
        """The stream for the next conversation and its peer's name; raises
        :class:`~hosepipe.errors.ConnectError` if it cannot be opened now."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the endpoint holds between conversations."""
