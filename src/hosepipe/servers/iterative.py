"""The iterative model: one client at a time, served to the end before the next.

The simplest server there is, and the right one when conversations are short and
rare. Its one conversation runs as a tutorial's iterative server runs it: blocking
receives and sends, on a thread of the model's own
(:func:`~hosepipe.servers.blocking.serve_connection`, as a fork child runs it). While it
lasts, the listeners of every iterative binding are paused, so further clients wait in
the kernel's backlog and are taken one by one, in order. The hub's loop is left free:
datagram bindings are answered meanwhile, and a SIGTERM closes the listeners at once
and cuts the conversation (its stream aborted) when the grace period ends, as under
every model.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque

from hosepipe.servers.base import Bound, Model
from hosepipe.servers.blocking import Aside, serve_connection
from hosepipe.servers.hub import Hub
from hosepipe.transports.base import Stream

__all__ = ["IterativeModel"]

log = logging.getLogger("hosepipe.server")

_Job = tuple[Bound, Stream, str]


class IterativeModel(Model):
    name = "iterative"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.waiting: deque[_Job] = deque()  # accepted in one batch, not yet served
        self.busy = False  # a conversation is being served (set and cleared by the loop)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None  # started with the first client
        self._lock = threading.Lock()
        self._current: Stream | None = None  # the stream being served, to cut it
        self._cut = False  # abort() was called: cut the current one and any later one
        self.aside = Aside()  # streams that may not be made non-blocking (stdio)

    def _bound(self) -> list[Bound]:
        """The stream bindings of this model (datagrams are answered all along)."""
        return [b for b in self.hub.bound if b.model == self.name and not b.address.is_datagram]

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        if not stream.nonblocking:
            self.aside.start(bound, stream, peer)
            return
        self.waiting.append((bound, stream, peer))
        if not self.busy:
            self._next()

    def _next(self) -> None:
        if not self.waiting:
            self.hub.resume_accepting(self._bound())
            return
        self.hub.pause_accepting(self._bound())
        self.busy = True
        if self._worker is None or not self._worker.is_alive():  # first, or it died
            self._worker = threading.Thread(target=self._work, name="hosepipe-iterative",
                                            daemon=True)
            self._worker.start()
        self._jobs.put(self.waiting.popleft())

    def _work(self) -> None:
        """The model's thread: serve each connection given, to its end."""
        while (job := self._jobs.get()) is not None:
            try:
                serve_connection(*job, track=self._track)
            except Exception:  # a bug: this connection ends, the model serves on
                log.exception("%s %s: serving %s failed", job[0].label, job[0].local, job[2])
            finally:
                self.hub.call_soon(self._ended)

    def _track(self, stream: Stream | None) -> None:
        # under the lock, as abort() aborts: the stream is never aborted once closed
        with self._lock:
            self._current = stream
            if self._cut and stream is not None:  # abort() came before it was known
                stream.abort()

    def _ended(self) -> None:
        self.busy = False
        if not self.hub.stopping:
            self._next()

    def active(self) -> int:
        return self.busy + len(self.waiting) + len(self.aside)

    def abort(self) -> None:
        with self._lock:
            self._cut = True
            if self._current is not None:
                self._current.abort()
        while self.waiting:
            bound, stream, peer = self.waiting.popleft()
            stream.close()
            bound.leave(peer)
        self.aside.abort()

    def close(self) -> None:
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join()
            self._worker = None
        self.aside.join()
