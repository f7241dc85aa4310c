"""Blocking byte streams with deadlines, for the models that give a conversation a thread.

A :class:`Stream` moves bytes over one connection: :meth:`receive_some` returns what
arrived (``b""`` at end of stream) or raises :class:`~hosepipe.errors.Timeout`;
:meth:`send_all` writes everything or raises. :class:`SocketStream` wraps a connected
socket; :class:`FdStream` a pair of descriptors (pipes to a forked child, a program's
stdin/stdout, our own stdio). OS errors become :mod:`hosepipe.errors`.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import struct

from hosepipe.errors import ConnectionClosed, Timeout

__all__ = ["FdStream", "SocketStream", "Stream"]

RECEIVE_SIZE = 256 * 1024
FILE_CHUNK = 1024 * 1024


class Stream:
    """A connected byte stream. Subclasses implement the five primitives."""

    def receive_some(self, timeout: float | None) -> bytes:
        raise NotImplementedError

    def send_all(self, data: bytes, timeout: float | None) -> None:
        raise NotImplementedError

    def receive_into(self, buffer: memoryview, timeout: float | None) -> int:
        """Receive into ``buffer``; how many bytes (0 at end of stream)."""
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

    def send_eof(self) -> None:
        """No more bytes from us; the peer still may send."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """From another thread: make a blocked receive return at once."""
        self.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_TIMEVAL = struct.Struct("ll")


class SocketStream(Stream):
    """A connected stream socket (TCP or Unix).

    Deadlines are the kernel's (``SO_RCVTIMEO`` / ``SO_SNDTIMEO`` on a blocking socket),
    set only when they change: one system call per receive or send. Python's own
    timeout mode costs a ``poll()`` before every call and two ``fcntl()`` per change.
    A TLS socket keeps Python's timeout mode (OpenSSL must see its own retries).
    """

    def __init__(self, sock: socket.socket, peer: str = "-") -> None:
        self.sock = sock
        self.peer = peer
        self._kernel_timeouts = not isinstance(sock, ssl.SSLSocket)
        self._timeouts: dict[int, float | None] = {}
        sock.setblocking(True)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _deadline(self, timeout: float | None, option: int = socket.SO_RCVTIMEO) -> None:
        if self._timeouts.get(option, -1.0) == timeout:
            return
        if self._kernel_timeouts:
            seconds = 0.0 if timeout is None else max(timeout, 0.001)  # 0 means none
            whole = int(seconds)
            self.sock.setsockopt(socket.SOL_SOCKET, option,
                                 _TIMEVAL.pack(whole, int((seconds - whole) * 1e6)))
            self._timeouts[option] = timeout
        else:
            self.sock.settimeout(timeout)
            self._timeouts = {socket.SO_RCVTIMEO: timeout, socket.SO_SNDTIMEO: timeout}

    def _error(self, exc: OSError, timeout: float | None, waiting_for: str) -> Exception:
        """The hosepipe error for an OS error (raise it ``from`` the original)."""
        if isinstance(exc, TimeoutError | BlockingIOError):  # EAGAIN: the kernel deadline
            return Timeout(f"{self.peer}: {waiting_for} for {timeout:g} s")
        return ConnectionClosed(f"{self.peer}: {exc.strerror or exc}")

    def receive_some(self, timeout: float | None) -> bytes:
        self._deadline(timeout)
        try:
            return self.sock.recv(RECEIVE_SIZE)
        except OSError as exc:
            raise self._error(exc, timeout, "nothing received") from exc

    def receive_into(self, buffer: memoryview, timeout: float | None) -> int:
        self._deadline(timeout)
        try:
            return self.sock.recv_into(buffer)
        except OSError as exc:
            raise self._error(exc, timeout, "nothing received") from exc

    def send_all(self, data: bytes, timeout: float | None) -> None:
        # the timeout bounds each send: a peer that reads nothing for that long fails it
        self._deadline(timeout, socket.SO_SNDTIMEO)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise self._error(exc, timeout, "accepted no data") from exc

    def send_file(self, fd: int, offset: int, count: int, timeout: float | None) -> int:
        """Zero-copy: ``os.sendfile`` from the page cache straight to the socket.

        Not for TLS: bytes written to the descriptor would bypass the encryption, so a
        TLS socket copies through :meth:`send_all` (the base class) instead.

        ``SO_SNDTIMEO`` bounds each wait for room, so a peer that stops reading fails the
        transfer after ``timeout`` seconds without progress.
        """
        if isinstance(self.sock, ssl.SSLSocket):
            return super().send_file(fd, offset, count, timeout)
        self._deadline(timeout, socket.SO_SNDTIMEO)
        sent = 0
        try:
            while sent < count:
                try:
                    n = os.sendfile(self.sock.fileno(), fd, offset + sent,
                                    min(count - sent, FILE_CHUNK))
                except BlockingIOError as exc:  # SO_SNDTIMEO passed with no progress
                    raise Timeout(f"{self.peer}: accepted no data for {timeout:g} s") from exc
                if n == 0:
                    break  # the file shrank
                sent += n
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc
        return sent


    def send_eof(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class FdStream(Stream):
    """Read from one descriptor, write to another (pipes, a program's stdio)."""

    def __init__(self, read_fd: int, write_fd: int, peer: str = "-", *, owned: bool = True) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.peer = peer
        self.owned = owned
        self._closed = False

    def _wait(self, fd: int, for_write: bool, timeout: float | None, what: str) -> None:
        if timeout is None:
            return
        readers, writers = ([], [fd]) if for_write else ([fd], [])
        ready = select.select(readers, writers, [], timeout)
        if not any(ready):
            raise Timeout(f"{self.peer}: {what} for {timeout:g} s")

    def receive_some(self, timeout: float | None) -> bytes:
        self._wait(self.read_fd, False, timeout, "nothing received")
        try:
            return os.read(self.read_fd, RECEIVE_SIZE)
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc

    def receive_into(self, buffer: memoryview, timeout: float | None) -> int:
        self._wait(self.read_fd, False, timeout, "nothing received")
        try:
            return os.readv(self.read_fd, [buffer])
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc

    def send_all(self, data: bytes, timeout: float | None) -> None:
        view = memoryview(data)
        while view:
            self._wait(self.write_fd, True, timeout, "accepted no data")
            try:
                sent = os.write(self.write_fd, view)
            except OSError as exc:  # EPIPE: the reader is gone
                raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc
            view = view[sent:]

    def send_eof(self) -> None:
        if self.write_fd != self.read_fd and self.owned:
            with contextlib.suppress(OSError):
                os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.owned:
            for fd in {self.read_fd, self.write_fd} - {-1}:
                with contextlib.suppress(OSError):
                    os.close(fd)
