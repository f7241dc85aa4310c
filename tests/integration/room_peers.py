"""Room members over raw sockets for the room tests: read whole lines, with deadlines."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable

from tests.conftest import ServerProcess


def address_of(server: ServerProcess) -> tuple[str, int]:
    host, port = server.address("room")[6:].rsplit(":", 1)
    return host, int(port)


class Peer:
    """One member as ``nc`` would be: bytes out, lines in."""

    def __init__(self, where: tuple[str, int], nick: str | None = None,
                 timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(where, timeout=10)
        self.buffer = b""
        self.seen: list[str] = []  # every line read so far
        self.timeout = timeout
        self.expect(lambda line: line.endswith("your nickname?"))
        if nick is not None:
            self.send(nick)
            self.expect(lambda line: line.startswith(f"* in {'lobby'}:"))

    def send(self, *lines: str | bytes) -> None:
        self.sock.sendall(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n"
                                   for x in lines))

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; lines so far: {self.seen[-10:]}"
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        assert chunk, f"closed by the server; lines so far: {self.seen[-10:]}"
        self.buffer += chunk

    def expect(self, wanted: Callable[[str], bool] | str) -> list[str]:
        """Lines up to and including the first that ``wanted`` accepts (or equals)."""
        test = (lambda line: line == wanted) if isinstance(wanted, str) else wanted
        deadline = time.monotonic() + self.timeout
        got: list[str] = []
        while True:
            while b"\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\n", 1)
                line = raw.decode()
                self.seen.append(line)
                got.append(line)
                if test(line):
                    return got
            self._fill(deadline)

    def read_to_end(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "the server did not close the connection"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return self.buffer
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def read_all(peers: list[Peer], wanted: int, seconds: float) -> None:
    """Read every peer (one selector) until each holds ``wanted`` members' lines
    (lines that start with ``[``), counted as the bytes arrive."""
    selector = selectors.DefaultSelector()
    said = {id(p): (b"\n" + p.buffer).count(b"\n[") for p in peers}
    try:
        for peer in peers:
            peer.sock.setblocking(False)
            selector.register(peer.sock, selectors.EVENT_READ, peer)
        deadline = time.monotonic() + seconds
        waiting = sum(1 for p in peers if said[id(p)] < wanted)
        while waiting:
            assert time.monotonic() < deadline, f"{waiting} members still waiting"
            for key, _ in selector.select(1.0):
                peer = key.data
                chunk = peer.sock.recv(1 << 20)
                assert chunk, "a member was disconnected"
                before = said[id(peer)]
                said[id(peer)] += ((peer.buffer[-1:] or b"\n") + chunk).count(b"\n[")
                peer.buffer += chunk
                if before < wanted <= said[id(peer)]:
                    waiting -= 1
    finally:
        selector.close()
        for peer in peers:
            peer.sock.setblocking(True)
