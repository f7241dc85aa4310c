"""memory://NAME: connections inside one process, for tests and embedding.

A server binding ``memory://NAME`` registers a listener under NAME; ``connect`` makes a
connected pair of Unix sockets (``socket.socketpair``), hands one end to that listener
and returns the other. ``memory://NAME?buffer=BYTES`` sets both ends' kernel buffers
(``SO_SNDBUF``/``SO_RCVBUF``), so tests can make a peer that fills up quickly. Nothing
leaves the process: no port, no file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

from hosepipe.errors import AddressError, ConnectError
from hosepipe.transports.base import Listener
from hosepipe.transports.streams import SocketStream

__all__ = ["SCHEMES", "MemoryAddress", "MemoryListener", "connect", "pair", "parse", "serve"]

SCHEMES = ("memory",)

_listeners: dict[str, MemoryListener] = {}
_lock = threading.Lock()
_counter = iter(range(1, 1 << 62))


@dataclass(frozen=True)
class MemoryAddress:
    name: str
    buffer: int | None = None
    scheme: str = "memory"
    is_datagram = False

    def __str__(self) -> str:
        query = f"?buffer={self.buffer}" if self.buffer else ""
        return f"memory://{self.name}{query}"


def parse(scheme: str, rest: str, original: str) -> MemoryAddress:
    name, _, query = rest.removeprefix("//").partition("?")
    if not name or "/" in name:
        raise AddressError(f"{original!r}: expected memory://NAME[?buffer=BYTES]")
    options = parse_qs(query)
    buffer = options.pop("buffer", [None])[-1]
    if options or (buffer is not None and not buffer.isdigit()):
        raise AddressError(f"{original!r}: the only option is buffer=BYTES")
    return MemoryAddress(name, int(buffer) if buffer else None)


def pair(buffer: int | None = None) -> tuple[SocketStream, SocketStream]:
    """Two connected streams (client end, server end)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if buffer:
        for sock in (a, b):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    number = next(_counter)
    return SocketStream(a, f"memory-server-{number}"), SocketStream(b, f"memory-peer-{number}")


def connect(address: MemoryAddress, **_: object) -> SocketStream:
    with _lock:
        listener = _listeners.get(address.name)
    if listener is None:
        raise ConnectError(f"cannot connect to {address}: nobody serves it in this process")
    client, server = pair(address.buffer)
    listener.offer(server)
    return client


class MemoryListener(Listener):
    def __init__(self, address: MemoryAddress) -> None:
        self.address = address
        self.bound = str(address)
        self._waiting: deque[SocketStream] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def offer(self, stream: SocketStream) -> None:
        self._waiting.append(stream)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"\0")

    def fileno(self) -> int:
        return self._wake_r

    def accept_nowait(self) -> tuple[SocketStream, str] | None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 1)
        if not self._waiting:
            return None
        stream = self._waiting.popleft()
        return stream, stream.peer

    def close(self) -> None:
        with _lock:
            if _listeners.get(self.address.name) is self:
                del _listeners[self.address.name]
        while self._waiting:
            self._waiting.popleft().close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1


def serve(address: MemoryAddress) -> MemoryListener:
    with _lock:
        if address.name in _listeners:
            raise ConnectError(f"cannot bind {address}: it is already served in this process")
        listener = _listeners[address.name] = MemoryListener(address)
    return listener
