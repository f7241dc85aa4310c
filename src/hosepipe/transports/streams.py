"""The two kinds of :class:`~hosepipe.transports.base.Stream` every transport uses.

:class:`SocketStream` wraps a connected socket (TCP, TLS, Unix, a socketpair);
:class:`FdStream` a pair of descriptors (pipes to a forked child, a program's
stdin/stdout, FIFOs, a serial line, our own stdio). Both have the blocking face (with
deadlines) and, where the descriptors are ours, the non-blocking one.
OS errors become :mod:`hosepipe.errors`.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import socket
import ssl
import struct

from hosepipe.errors import ConnectionClosed, Timeout
from hosepipe.transports.base import FILE_CHUNK, Stream

__all__ = ["FdStream", "SocketStream", "Stream"]

# What one receive asks for. Not more: ``recv(n)`` mallocs n bytes before shrinking them
# to what arrived, and above glibc's mmap threshold (128 KiB) that malloc can be an
# mmap and page faults -- more than the system call itself for a small message. A
# reusable buffer per thread would avoid it but keep that memory resident per thread.
RECEIVE_SIZE = 64 * 1024


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
        self._receive_timeout: float | None
        self._send_timeout: float | None
        self._keep_low: float
        self._forget_timeouts()
        self._aborted = False  # abort() shut it down: an empty read is not the peer's end
        sock.setblocking(True)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def read_fd(self) -> int:  # type: ignore[override]
        return self.sock.fileno()

    @property
    def write_fd(self) -> int:  # type: ignore[override]
        return self.sock.fileno()

    @property
    def zero_copy(self) -> bool:  # type: ignore[override]
        return not isinstance(self.sock, ssl.SSLSocket)

    def buffered(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    # -- TLS, server side, for the loop models (the blocking ones use tls.secure_accepted)
    def wrap_tls(self, context: ssl.SSLContext) -> None:
        """Become the server side of a TLS connection; run :meth:`handshake_nowait`
        until it stops raising SSLWantReadError/SSLWantWriteError."""
        self.sock = context.wrap_socket(self.sock, server_side=True,
                                        do_handshake_on_connect=False)
        # OpenSSL must see its own retries: Python's timeout mode from now on (a kernel
        # timeout on a blocking TLS socket is retried by the read, never raised)
        self._kernel_timeouts = False
        self._forget_timeouts()

    def handshake_nowait(self) -> None:
        assert isinstance(self.sock, ssl.SSLSocket)
        self.sock.do_handshake()

    # -- non-blocking --------------------------------------------------------------------
    def set_blocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)
        self._forget_timeouts()  # set them again when blocking

    def receive_nowait(self, buffer: memoryview) -> int:
        try:
            return self.sock.recv_into(buffer)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:  # TLS: not yet
            raise BlockingIOError(str(exc)) from exc

    def send_nowait(self, data: bytes | memoryview) -> int:
        try:
            return self.sock.send(data)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
            raise BlockingIOError(str(exc)) from exc

    def send_views_nowait(self, views: list[memoryview]) -> int:
        if isinstance(self.sock, ssl.SSLSocket):
            return self.send_nowait(b"".join(views))
        return self.sock.sendmsg(views)

    def send_file_nowait(self, fd: int, offset: int, count: int) -> int:
        if isinstance(self.sock, ssl.SSLSocket):
            return super().send_file_nowait(fd, offset, min(count, 256 * 1024))
        return os.sendfile(self.sock.fileno(), fd, offset, min(count, FILE_CHUNK))

    def _set_deadline(self, timeout: float | None, option: int) -> None:
        """Change the receive or send deadline (callers skip this when it is unchanged)."""
        if self._kernel_timeouts:
            seconds = 0.0 if timeout is None else max(timeout, 0.001)  # 0 means none
            whole = int(seconds)
            self.sock.setsockopt(socket.SOL_SOCKET, option,
                                 _TIMEVAL.pack(whole, int((seconds - whole) * 1e6)))
            if option == socket.SO_RCVTIMEO:
                self._receive_timeout = timeout
                self._keep_range(timeout)
            else:
                self._send_timeout = timeout
        else:
            self.sock.settimeout(timeout)
            self._receive_timeout = self._send_timeout = timeout
            self._keep_range(timeout)

    def _forget_timeouts(self) -> None:
        """None set yet (-1): the next receive or send sets its own."""
        self._receive_timeout = self._send_timeout = -1.0
        self._keep_range(None)

    def _keep_range(self, timeout: float | None) -> None:
        """Receive timeouts up to 1% and 1 ms shorter than ``timeout`` keep it
        (receive_some); while none is set, infinite: the comparison stops there, before
        reaching a None or the -1 of "not set"."""
        self._keep_low = math.inf if timeout is None else (timeout - 0.001) / 1.01

    def _error(self, exc: OSError, timeout: float | None, waiting_for: str) -> Exception:
        """The hosepipe error for an OS error (raise it ``from`` the original)."""
        if isinstance(exc, TimeoutError | BlockingIOError):  # EAGAIN: the kernel deadline
            return Timeout(f"{self.peer}: {waiting_for} for {timeout:g} s")
        return ConnectionClosed(f"{self.peer}: {exc.strerror or exc}")

    def receive_some(self, timeout: float | None) -> bytes:
        # A deadline a hair earlier than the one set keeps the one set (at most 1% and
        # 1 ms late): one setsockopt per change, not one per receive.
        if timeout is None:
            if self._receive_timeout is not None:
                self._set_deadline(None, socket.SO_RCVTIMEO)
        elif not self._keep_low <= timeout <= self._receive_timeout:  # type: ignore[operator]
            self._set_deadline(timeout, socket.SO_RCVTIMEO)
        try:
            data = self.sock.recv(RECEIVE_SIZE)
        except OSError as exc:
            raise self._error(exc, timeout, "nothing received") from exc
        if not data and self._aborted:
            raise ConnectionClosed(f"{self.peer}: aborted")
        return data

    def receive_into(self, buffer: memoryview, timeout: float | None) -> int:
        if timeout != self._receive_timeout:
            self._set_deadline(timeout, socket.SO_RCVTIMEO)
        try:
            n = self.sock.recv_into(buffer)
        except OSError as exc:
            raise self._error(exc, timeout, "nothing received") from exc
        if not n and self._aborted:
            raise ConnectionClosed(f"{self.peer}: aborted")
        return n

    def send_all(self, data: bytes | memoryview, timeout: float | None) -> None:
        # the timeout bounds each send: a peer that reads nothing for that long fails it
        if timeout != self._send_timeout:
            self._set_deadline(timeout, socket.SO_SNDTIMEO)
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
        if timeout != self._send_timeout:
            self._set_deadline(timeout, socket.SO_SNDTIMEO)
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
        """Half-close: shut down our write side. Not over TLS: Python's ``ssl`` has no
        half-close (``shutdown`` drops the session, ``unwrap`` ends both directions),
        so there the end of our bytes is the end of the connection, at ``close``."""
        if isinstance(self.sock, ssl.SSLSocket):
            return
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def abort(self) -> None:
        """From another thread: a blocked receive or send gives up at once (a receive
        raises, rather than reading the shutdown as the peer's end of stream)."""
        self._aborted = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def cut_watch(self) -> tuple[int, int] | None:
        # no events asked: poll still reports POLLHUP once both directions are shut (our
        # abort, or a Unix socket's peer closing it whole: nothing could reach it then)
        # and POLLERR on a reset, never a peer's half-close
        return self.sock.fileno(), 0


class FdStream(Stream):
    """Read from one descriptor, write to another (pipes, a program's stdio).

    Pipes have no kernel deadline, so a receive first waits (``poll``) for up to its
    timeout. When the stream ``owned`` its descriptors (pipes it made), the write end is
    made non-blocking: a write is tried at once and waits only if the pipe is full --
    one system call per send. Descriptors shared with others (our own stdio) keep their
    blocking mode, which is not ours to change, and a write waits for room first.

    Closing a descriptor does not wake a thread blocked on it, so an ``abortable``
    stream (the default) also waits on a pipe of its own that :meth:`abort` writes to;
    a ``pipe:`` child, whose parent ends it with SIGTERM instead, skips that and
    receives without a ``poll`` when it has no deadline.
    """

    def __init__(self, read_fd: int, write_fd: int, peer: str = "-", *, owned: bool = True,
                 abortable: bool = True) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.peer = peer
        self.owned = owned
        self.nonblocking = owned  # shared descriptors (our stdio) keep their mode
        self._closed = False
        self._readable = select.poll()
        self._readable.register(read_fd, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(write_fd, select.POLLOUT)
        self._abort_r = self._abort_w = -1
        if abortable:
            self._abort_r, self._abort_w = os.pipe()
            for poll in (self._readable, self._writable):
                poll.register(self._abort_r, select.POLLIN)
        # a descriptor that also reads, or that others share, keeps its blocking mode
        self._waits_to_write = not owned or read_fd == write_fd
        if not self._waits_to_write:
            os.set_blocking(write_fd, False)

    def _wait(self, poll: select.poll, timeout: float | None, what: str) -> None:
        """Wait until ``poll`` reports ready; ``None`` waits for ever."""
        ready = poll.poll(None if timeout is None else max(timeout, 0.001) * 1000)
        if not ready:
            raise Timeout(f"{self.peer}: {what} for {timeout:g} s")
        if self._abort_r >= 0 and any(fd == self._abort_r for fd, _ in ready):
            raise ConnectionClosed(f"{self.peer}: aborted")

    def receive_some(self, timeout: float | None) -> bytes:
        if timeout is not None or self._abort_r >= 0:
            self._wait(self._readable, timeout, "nothing received")
        try:
            return os.read(self.read_fd, RECEIVE_SIZE)
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc

    def receive_into(self, buffer: memoryview, timeout: float | None) -> int:
        if timeout is not None or self._abort_r >= 0:
            self._wait(self._readable, timeout, "nothing received")
        try:
            return os.readv(self.read_fd, [buffer])
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc

    def send_all(self, data: bytes | memoryview, timeout: float | None) -> None:
        view = memoryview(data)
        while view:
            if self._waits_to_write and (timeout is not None or self._abort_r >= 0):
                self._wait(self._writable, timeout, "accepted no data")
            try:
                sent = os.write(self.write_fd, view)
            except BlockingIOError:  # our pipe is full: wait for room, then write again
                self._wait(self._writable, timeout, "accepted no data")
                continue
            except OSError as exc:  # EPIPE: the reader is gone
                raise ConnectionClosed(f"{self.peer}: {exc.strerror or exc}") from exc
            view = view[sent:]

    def set_blocking(self, flag: bool) -> None:
        os.set_blocking(self.read_fd, flag)
        if not flag or self._waits_to_write:
            os.set_blocking(self.write_fd, flag)  # else: non-blocking already (see above)

    def receive_nowait(self, buffer: memoryview) -> int:
        return os.readv(self.read_fd, [buffer])

    def send_nowait(self, data: bytes | memoryview) -> int:
        return os.write(self.write_fd, data)

    def send_views_nowait(self, views: list[memoryview]) -> int:
        return os.writev(self.write_fd, views)

    def send_eof(self) -> None:
        if self.write_fd != self.read_fd and self.owned:
            with contextlib.suppress(OSError):
                os.close(self.write_fd)
            self.write_fd = -1

    def release_abort(self) -> None:
        """Close the abort pipe (part of :meth:`close`; subclasses that close
        differently call it)."""
        for fd in (self._abort_r, self._abort_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._abort_r = self._abort_w = -1

    def cut_watch(self) -> tuple[int, int] | None:
        return (self._abort_r, select.POLLIN) if self._abort_r >= 0 else None

    def abort(self) -> None:
        """From another thread: make a blocked receive or send give up at once."""
        if self._abort_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._abort_w, b"\0")
        else:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.release_abort()
        if self.owned:
            for fd in {self.read_fd, self.write_fd} - {-1}:
                with contextlib.suppress(OSError):
                    os.close(fd)
