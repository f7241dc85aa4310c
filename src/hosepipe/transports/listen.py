"""Listening sockets for tcp://, udp:// and unix:// addresses.

TCP listeners set ``SO_REUSEADDR`` (a restarted server rebinds at once) and a large
backlog. A Unix socket path left behind by a dead server is removed, but only after a
connect to it is refused, so a live server's socket is never stolen.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat

from hosepipe.address import Address, InetAddress, UnixAddress
from hosepipe.errors import ConnectError, UsageError

__all__ = ["describe_bound", "open_listener"]

BACKLOG = 1024


def open_listener(address: Address) -> socket.socket:
    """A bound (and, for streams, listening) non-blocking socket for ``address``."""
    if isinstance(address, InetAddress):
        sock = _open_inet(address)
    elif isinstance(address, UnixAddress):
        sock = _open_unix(address)
    else:
        raise UsageError(f"cannot listen on {address}: servers listen on tcp, udp or unix")
    sock.setblocking(False)
    return sock


def _open_inet(address: InetAddress) -> socket.socket:
    kind = socket.SOCK_DGRAM if address.is_datagram else socket.SOCK_STREAM
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {address.host!r}: {exc.strerror}") from exc
    family, socktype, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        if not address.is_datagram:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        if not address.is_datagram:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConnectError(f"cannot bind {address}: {exc.strerror or exc}") from exc
    return sock


def _remove_stale(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConnectError(f"cannot bind unix://{path}: a file that is not a socket is there")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # nobody listens: a dead server's leftover
        return
    except OSError:
        return
    finally:
        probe.close()
    raise ConnectError(f"cannot bind unix://{path}: another server is listening there")


def _open_unix(address: UnixAddress) -> socket.socket:
    if not address.abstract:
        _remove_stale(address.path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(address.sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConnectError(f"cannot bind {address}: {exc.strerror or exc}") from exc
    return sock


def describe_bound(address: Address, sock: socket.socket) -> str:
    """The address actually bound (port 0 replaced by the port the OS chose)."""
    if isinstance(address, InetAddress):
        host, port = sock.getsockname()[:2]
        return str(InetAddress(address.scheme, host, port))
    return str(address)


def close_listener(address: Address, sock: socket.socket) -> None:
    """Close a listener and remove its Unix socket file."""
    sock.close()
    if isinstance(address, UnixAddress) and not address.abstract:
        with contextlib.suppress(OSError):
            os.unlink(address.path)


def is_transient_accept_error(exc: OSError) -> bool:
    """Errors after which a server should keep accepting (the peer gave up, or no fds)."""
    return exc.errno in {
        errno.ECONNABORTED, errno.EPROTO, errno.EMFILE, errno.ENFILE,
        errno.ENOBUFS, errno.ENOMEM, errno.EPERM, errno.EAGAIN,
    }
