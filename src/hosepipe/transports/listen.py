"""Listening sockets, shared by the tcp, udp and unix transports; and the one call that
opens any binding's server side (:func:`open_listener`).

TCP listeners set ``SO_REUSEADDR`` (a restarted server rebinds at once) and a large
backlog. A :class:`SocketListener` hands out accepted connections as
:class:`~hosepipe.transports.streams.SocketStream`\\ s.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Callable

from hosepipe.errors import UsageError
from hosepipe.transports.base import Endpoint, Listener
from hosepipe.transports.registry import transport
from hosepipe.transports.streams import SocketStream

__all__ = [
    "BACKLOG",
    "SocketListener",
    "is_transient_accept_error",
    "open_listener",
    "peer_name",
]

BACKLOG = 1024


def open_listener(address: object) -> Listener | Endpoint:
    """The server side of ``address``: a listener, or a single endpoint."""
    module = transport(address.scheme)  # type: ignore[attr-defined]
    serve = getattr(module, "serve", None)
    if serve is None:
        raise UsageError(f"cannot serve on {address}: {address.scheme}: is a client-side "  # type: ignore[attr-defined]
                         "address")
    return serve(address)


def peer_name(sockaddr: object) -> str:
    """``host:port`` for an inet peer, ``[v6]:port`` for IPv6, ``unix-peer`` otherwise."""
    if isinstance(sockaddr, tuple):
        host, port = sockaddr[0], sockaddr[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return "unix-peer"


class SocketListener(Listener):
    """A bound socket: listening (streams) or receiving datagrams."""

    def __init__(self, sock: socket.socket, bound: str, *, datagram: bool = False,
                 on_close: Callable[[], None] | None = None) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.bound = bound
        self.is_datagram = datagram
        self._on_close = on_close

    def fileno(self) -> int:
        assert self.sock is not None
        return self.sock.fileno()

    def accept_nowait(self) -> tuple[SocketStream, str] | None:
        assert self.sock is not None
        try:
            conn, addr = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return None
        peer = peer_name(addr)
        return SocketStream(conn, peer), peer

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            if self._on_close is not None:
                with contextlib.suppress(OSError):
                    self._on_close()

    def forget(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def remove_file(path: str) -> Callable[[], None]:
    return lambda: os.unlink(path)


def is_transient_accept_error(exc: OSError) -> bool:
    """Errors after which a server should keep accepting (the peer gave up, or no fds)."""
    return exc.errno in {
        errno.ECONNABORTED, errno.EPROTO, errno.EMFILE, errno.ENFILE,
        errno.ENOBUFS, errno.ENOMEM, errno.EPERM, errno.EAGAIN,
    }
