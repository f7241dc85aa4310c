"""The two ends of a relay: whatever was connected, seen as two descriptors.

A relay moves bytes between descriptors, not between :class:`Stream` objects: it needs
to poll them, make them non-blocking and hand them to ``os.splice``. An :class:`End`
takes what :mod:`hosepipe.transports.connect` returns (a ``SocketStream``, an
``FdStream`` or ``ProcessStream``, a UDP socket) or an accepted socket, and exposes its
read and write descriptors, one non-blocking ``read``/``write`` each, the half-close
that means "no more bytes from us", and ``close``.

TLS ends carry a half-close as a TCP FIN without TLS's close_notify, unless the peer has
already finished sending: Python's ``ssl`` sends close_notify only through a shutdown
that goes on to read the peer's, and OpenSSL refuses (or drops) application data read
there. So the contexts the relay makes accept an end of stream without close_notify
(:func:`tolerant`), and a peer that requires one cannot answer after our half-close;
once the peer has ended its side, our close_notify is sent before the FIN.

Descriptors we own are made non-blocking. Our own stdin/stdout are shared with the
shell and keep their mode: the relay polls before each call and, on a blocking
descriptor that is not a pipe, writes at most ``PIPE_BUF`` bytes at a time, so no call
blocks the loop for long. Half-closing stdout puts ``/dev/null`` in its place, so the
reader downstream sees the end of the stream while we go on reading stdin.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import ssl
import stat
from typing import Union

from hosepipe.address import Address, InetAddress, parse_address
from hosepipe.transports.connect import ProcessStream, connect_datagram, connect_stream
from hosepipe.transports.streams import FdStream, SocketStream, Stream
from hosepipe.transports.tls import client_context

__all__ = ["End", "Endpoint", "as_end", "open_end", "tolerant"]

Endpoint = Union[Stream, socket.socket, "End"]


def _is_fifo(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


class End:
    """One side of a relay: a read descriptor and a write descriptor (often the same)."""

    def __init__(self, label: str, *, sock: socket.socket | None = None,
                 stream: Stream | None = None, read_fd: int = -1, write_fd: int = -1,
                 shared: bool = False) -> None:
        self.label = label
        self.sock = sock
        self.stream = stream
        self.shared = shared  # our stdio: not ours to make non-blocking or to close
        if sock is not None:
            read_fd = write_fd = sock.fileno()
            sock.setblocking(False)
        elif not shared:
            for fd in {read_fd, write_fd}:
                os.set_blocking(fd, False)
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.datagram = sock is not None and sock.type == socket.SOCK_DGRAM
        self.tls = isinstance(sock, ssl.SSLSocket)
        self.saw_eof = False  # the peer has ended its side (set by the relay)
        # a blocking descriptor that is not a pipe may block on a large write
        self._write_cap = select.PIPE_BUF if shared and not _is_fifo(write_fd) else None

    @property
    def spliceable(self) -> bool:
        """Whether ``os.splice`` may move this end's bytes (TLS and datagrams: no)."""
        return not (self.tls or self.datagram)

    def buffered(self) -> bool:
        """Bytes already decrypted and waiting inside TLS, which poll cannot see."""
        return self.tls and self.sock.pending() > 0  # type: ignore[union-attr]

    def read(self, size: int) -> bytes:
        """What is there (``b""`` at the end of a stream); BlockingIOError if nothing."""
        if self.sock is not None:
            return self.sock.recv(size)
        return os.read(self.read_fd, size)

    def write(self, data: memoryview) -> int:
        """How much of ``data`` was written; BlockingIOError if none could be."""
        if self._write_cap is not None:
            data = data[: self._write_cap]
        if self.sock is not None:
            return self.sock.send(data)
        return os.write(self.write_fd, data)

    def shutdown_write(self) -> None:
        """No more bytes from us: a TCP FIN, a closed pipe, /dev/null for our stdout."""
        with contextlib.suppress(OSError):
            if self.datagram:
                return
            if self.sock is not None:
                if self.tls and self.saw_eof:
                    self._close_notify()
                socket.socket.shutdown(self.sock, socket.SHUT_WR)  # not SSLSocket's: it
                return                                              # would drop TLS state
            if self.write_fd == self.read_fd:
                return
            if self.shared:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self.write_fd)
                os.close(null)
            elif self.stream is not None:
                self.stream.send_eof()

    def _close_notify(self) -> None:
        """TLS's own end of stream, sent when nothing more can come from the peer."""
        assert isinstance(self.sock, ssl.SSLSocket)
        with contextlib.suppress(OSError, ValueError):  # ssl.SSLError is an OSError
            self.sock.unwrap()

    def close(self, *, abort: bool = False) -> None:
        """Release the end; ``abort`` also ends an ``exec:`` program with SIGTERM."""
        if abort and isinstance(self.stream, ProcessStream):
            with contextlib.suppress(ProcessLookupError):
                self.stream.process.send_signal(signal.SIGTERM)
        if self.stream is not None:
            self.stream.close()
        elif self.sock is not None:
            self.sock.close()

    def __repr__(self) -> str:
        return f"End({self.label!r}, read_fd={self.read_fd}, write_fd={self.write_fd})"


def as_end(endpoint: Endpoint, label: str | None = None) -> End:
    """An :class:`End` for a connected stream, socket or end (which is returned as is)."""
    if isinstance(endpoint, End):
        return endpoint
    if isinstance(endpoint, socket.socket):
        return End(label or _socket_label(endpoint), sock=endpoint)
    if isinstance(endpoint, SocketStream):
        return End(label or endpoint.peer, sock=endpoint.sock, stream=endpoint)
    if isinstance(endpoint, FdStream):
        return End(label or endpoint.peer, stream=endpoint, read_fd=endpoint.read_fd,
                   write_fd=endpoint.write_fd, shared=not endpoint.owned
                   and not isinstance(endpoint, ProcessStream))
    raise TypeError(f"cannot relay a {type(endpoint).__name__}")


def _socket_label(sock: socket.socket) -> str:
    try:
        peer = sock.getpeername()
    except OSError:
        return "socket"
    if isinstance(peer, tuple):
        host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
        return f"{host}:{peer[1]}"
    return f"unix:{peer or '(unnamed)'}"


def tolerant(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context``, made to take an end of stream without close_notify as an end."""
    context.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return context


def open_end(address: str | Address, *, timeout: float | None = 10.0,
             tls: ssl.SSLContext | None = None) -> End:
    """Connect ``address`` (any stream form, or udp://) and return it as an :class:`End`;
    ``tls`` defaults to the HOSEPIPE_TLS_* client context, made :func:`tolerant`."""
    address = parse_address(address)
    if isinstance(address, InetAddress) and address.is_datagram:
        sock = connect_datagram(address, timeout=timeout)
        return End(str(address), sock=sock)
    if address.scheme == "tls" and tls is None:
        tls = tolerant(client_context())
    return as_end(connect_stream(address, timeout=timeout, tls=tls), str(address))
