"""The iterative model: one client at a time, served to the end before the next.

The simplest server there is, and the right one when conversations are short and
rare. While one conversation runs, every other binding of this model waits. On
shutdown, a timer cuts the current conversation if it outlives the grace period.
"""

from __future__ import annotations

import socket
import threading

from hosepipe.servers.base import Binding, Model
from hosepipe.servers.blocking import serve_connection
from hosepipe.transports.streams import Stream

__all__ = ["IterativeModel"]


class IterativeModel(Model):
    name = "iterative"

    def __init__(self) -> None:
        self._current: Stream | None = None
        self._cutter: threading.Timer | None = None

    def accepted(self, binding: Binding, sock: socket.socket, peer: str) -> None:
        serve_connection(binding, sock, peer, self._track)

    def _track(self, stream: Stream | None) -> None:
        self._current = stream

    def active(self) -> int:
        return 1 if self._current is not None else 0

    def interrupt(self, grace: float, *, hurry: bool) -> None:
        # A signal arrives while the hub's thread is inside accepted(), serving.
        if hurry:
            self.abort()
        elif self._current is not None and self._cutter is None:
            self._cutter = threading.Timer(grace, self.abort)
            self._cutter.daemon = True
            self._cutter.start()

    def abort(self) -> None:
        current = self._current
        if current is not None:
            current.abort()

    def close(self) -> None:
        if self._cutter is not None:
            self._cutter.cancel()
            self._cutter.join()
