"""The select model: every connection non-blocking, in the hub's one selector loop.

Each accepted connection becomes a :class:`~hosepipe.servers.inloop.LoopConnection`
(a driver plus a non-blocking socket registered in the hub's selector) and runs
concurrently with all the others on the hub's thread. ``tls://`` is served too: the
handshake runs non-blocking, within ``handshake_timeout``.
"""

from __future__ import annotations

import socket

from hosepipe.servers.base import Binding, Model
from hosepipe.servers.hub import Hub
from hosepipe.servers.inloop import LoopConnection

__all__ = ["RECEIVE_SIZE", "SelectModel"]

# One receive buffer for the whole loop (as uvloop keeps one): large reads take few
# system calls, and each receive copies out only what arrived. ``recv(256 KiB)`` would
# malloc 256 KiB per call instead, an mmap when above glibc's threshold.
RECEIVE_SIZE = 256 * 1024


class SelectModel(Model):
    name = "select"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.connections: set[LoopConnection] = set()
        self.receive_area = memoryview(bytearray(RECEIVE_SIZE))

    def accepted(self, binding: Binding, sock: socket.socket, peer: str) -> None:
        connection = LoopConnection(self.hub, binding, sock, peer, area=self.receive_area,
                                    on_end=self.connections.discard)
        self.connections.add(connection)
        connection.start()

    def active(self) -> int:
        return len(self.connections)

    def abort(self) -> None:
        for connection in list(self.connections):
            connection.abort("cut at shutdown")
