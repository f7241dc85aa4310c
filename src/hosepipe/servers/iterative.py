"""The iterative model: one client at a time, served to the end before the next.

The simplest server there is, and the right one when conversations are short and
rare. It runs its one conversation in the hub's loop, non-blocking, as the select model
runs many (:class:`~hosepipe.servers.inloop.LoopConnection`): while it lasts, the
listeners of every iterative binding are paused, so further clients wait in the
kernel's backlog and are taken one by one, in order. The loop itself keeps running, so
datagram bindings are answered meanwhile, and a SIGTERM closes the listeners at once
and cuts the conversation when the grace period ends, as under every model.
"""

from __future__ import annotations

from collections import deque

from hosepipe.servers.base import Bound, Model
from hosepipe.servers.blocking import Aside
from hosepipe.servers.hub import Hub
from hosepipe.servers.inloop import LoopConnection
from hosepipe.servers.selecting import RECEIVE_SIZE
from hosepipe.transports.base import Stream

__all__ = ["IterativeModel"]


class IterativeModel(Model):
    name = "iterative"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.current: LoopConnection | None = None
        self.waiting: deque[tuple[Bound, Stream, str]] = deque()
        self.receive_area = memoryview(bytearray(RECEIVE_SIZE))
        self.aside = Aside()  # streams that may not be made non-blocking (stdio)

    def _bound(self) -> list[Bound]:
        """The stream bindings of this model (datagrams are answered all along)."""
        return [b for b in self.hub.bound if b.model == self.name and not b.address.is_datagram]

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        if not stream.nonblocking:
            self.aside.start(bound, stream, peer)
            return
        self.waiting.append((bound, stream, peer))  # accepted in the same batch
        if self.current is None:
            self._next()

    def _next(self) -> None:
        if not self.waiting:
            self.hub.resume_accepting(self._bound())
            return
        self.hub.pause_accepting(self._bound())
        bound, stream, peer = self.waiting.popleft()
        self.current = LoopConnection(self.hub, bound, stream, peer, area=self.receive_area,
                                      on_end=self._ended)
        self.current.start()

    def _ended(self, connection: LoopConnection) -> None:
        if connection is self.current:
            self.current = None
            if not self.hub.stopping:
                self.hub.call_soon(self._next)

    def active(self) -> int:
        return (self.current is not None) + len(self.waiting) + len(self.aside)

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort("cut at shutdown")
        while self.waiting:
            bound, stream, peer = self.waiting.popleft()
            stream.close()
            bound.leave(peer)
        self.aside.abort()

    def close(self) -> None:
        self.aside.join()
