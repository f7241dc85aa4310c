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

from hosepipe.errors import ConnectionClosed, Timeout

__all__ = ["FdStream", "SocketStream", "Stream"]

RECEIVE_SIZE = 256 * 1024


class Stream:
    """A connected byte stream. Subclasses implement the five primitives."""

    def receive_some(self, timeout: float | None) -> bytes:
        raise NotImplementedError

    def send_all(self, data: bytes, timeout: float | None) -> None:
        raise NotImplementedError

    def send_file(self, path: str, offset: int, count: int | None, timeout: float | None) -> None:
        """Send a file region; the default reads it through :meth:`send_all`."""
        with open(path, "rb") as file:
            file.seek(offset)
            remaining = count
            while remaining is None or remaining > 0:
                size = RECEIVE_SIZE if remaining is None else min(remaining, RECEIVE_SIZE)
                chunk = file.read(size)
                if not chunk:
                    break
                self.send_all(chunk, timeout)
                if remaining is not None:
                    remaining -= len(chunk)

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


class SocketStream(Stream):
    """A connected stream socket (TCP or Unix)."""

    def __init__(self, sock: socket.socket, peer: str = "-") -> None:
        self.sock = sock
        self.peer = peer
        sock.setblocking(True)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def receive_some(self, timeout: float | None) -> bytes:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(RECEIVE_SIZE)
        except TimeoutError as exc:
            raise Timeout(f"nothing received from {self.peer} in {timeout:g} s") from exc
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc

    def send_all(self, data: bytes, timeout: float | None) -> None:
        # settimeout bounds each send; a peer that reads nothing for `timeout` fails it
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise Timeout(f"{self.peer} accepted no data for {timeout:g} s") from exc
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc

    def send_file(self, path: str, offset: int, count: int | None, timeout: float | None) -> None:
        self.sock.settimeout(timeout)
        with open(path, "rb") as file:
            try:
                self.sock.sendfile(file, offset, count)
            except TimeoutError as exc:
                raise Timeout(f"{self.peer} accepted no data for {timeout:g} s") from exc
            except OSError as exc:
                raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc

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
