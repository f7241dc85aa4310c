"""The select model: every connection non-blocking, in the hub's one selector loop.

Each accepted connection becomes a :class:`~hosepipe.servers.inloop.LoopConnection`
(a driver plus a non-blocking stream registered in the hub's selector) and runs
concurrently with all the others on the hub's thread. ``tls://`` is served too: the
handshake runs non-blocking, within ``handshake_timeout``. A stream that may not be
made non-blocking (stdio) is served on a thread of its own.
"""

from __future__ import annotations

from hosepipe.servers.base import Bound, Model
from hosepipe.servers.blocking import Aside
from hosepipe.servers.hub import Hub
from hosepipe.servers.inloop import LoopConnection
from hosepipe.transports.base import Stream

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
        # made once and shared: a bound method per connection would cost each 72 B
        self._ended = self.connections.discard
        self.receive_area = memoryview(bytearray(RECEIVE_SIZE))
        self.aside = Aside()

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        if not stream.nonblocking:
            self.aside.start(bound, stream, peer)
            return
        connection = LoopConnection(self.hub, bound, stream, peer, area=self.receive_area,
                                    on_end=self._ended)
        self.connections.add(connection)
        connection.start()

    def active(self) -> int:
        return len(self.connections) + len(self.aside)

    def abort(self) -> None:
        for connection in list(self.connections):
            connection.abort("cut at shutdown")
        self.aside.abort()

    def close(self) -> None:
        self.aside.join()
