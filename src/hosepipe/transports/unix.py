"""unix:///PATH and unix:@NAME: Unix stream sockets on the file system, or Linux
abstract names (no file).

A socket path left behind by a dead server is removed, but only after a connect to it
is refused, so a live server's socket is never stolen; the server removes its own file
when it closes.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass

from hosepipe.errors import AddressError, ConnectError, reason_of
from hosepipe.transports.listen import BACKLOG, SocketListener, remove_file
from hosepipe.transports.streams import SocketStream

__all__ = ["SCHEMES", "UnixAddress", "connect", "parse", "serve"]

SCHEMES = ("unix",)


@dataclass(frozen=True)
class UnixAddress:
    """A Unix stream socket: a path, or a Linux abstract name when ``abstract``."""

    path: str
    abstract: bool = False
    scheme: str = "unix"
    is_datagram = False

    @property
    def sockaddr(self) -> str | bytes:
        return b"\0" + self.path.encode() if self.abstract else self.path

    def __str__(self) -> str:
        return f"unix:@{self.path}" if self.abstract else f"unix://{self.path}"


def parse(scheme: str, rest: str, original: str) -> UnixAddress:
    if rest.startswith("@"):
        name = rest[1:]
        if not name:
            raise AddressError(f"{original!r}: an abstract socket needs a name after '@'")
        return UnixAddress(name, abstract=True)
    path = rest[2:] if rest.startswith("//") else rest
    if not path:
        raise AddressError(f"{original!r}: expected unix:///PATH or unix:@NAME")
    if len(path.encode()) > 107:
        raise AddressError(f"{original!r}: Unix socket paths are limited to 107 bytes")
    return UnixAddress(path)


def connect(address: UnixAddress, *, timeout: float | None = 10.0, **_: object) -> SocketStream:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address.sockaddr)
    except OSError as exc:
        sock.close()
        raise ConnectError(f"cannot connect to {address}: {reason_of(exc)}") from exc
    return SocketStream(sock, str(address))


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


def serve(address: UnixAddress) -> SocketListener:
    if not address.abstract:
        _remove_stale(address.path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(address.sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConnectError(f"cannot bind {address}: {exc.strerror or exc}") from exc
    cleanup = None if address.abstract else remove_file(address.path)
    return SocketListener(sock, str(address), on_close=cleanup)
