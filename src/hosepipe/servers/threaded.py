"""The thread model: a bounded pool of worker threads, one conversation each.

A connection gets a worker only once its peer has sent something. Until then it waits
in the hub's loop (:class:`~hosepipe.servers.inloop.LoopConnection`, with its
conversation already open, so services that speak first and TLS handshakes go on
there), where an idle or slow peer costs no thread: connections that only connect can
never starve the pool. At its first readable event the connection -- driver, stream
and all -- joins a queue for the next free worker, which drives it blocking to its end.

The pool grows on demand up to ``threads`` workers and never beyond, so a flood of
clients costs queue entries (bounded by ``max_connections``), not threads; a worker
idle for ``retire_after`` seconds (the ``thread_idle`` limit) ends, so a burst does not
leave its threads behind. On shutdown, the workers finish their conversations within
the grace period; then their streams are cut.
"""

from __future__ import annotations

import logging
import queue
import threading

from hosepipe.servers.base import Bound, Model
from hosepipe.servers.blocking import continue_connection, serve_connection
from hosepipe.servers.hub import Hub
from hosepipe.servers.inloop import LoopConnection
from hosepipe.servers.selecting import RECEIVE_SIZE
from hosepipe.transports.base import Stream

__all__ = ["ThreadModel"]

log = logging.getLogger("hosepipe.server")

_Job = tuple[Bound, Stream, str, LoopConnection | None]


class ThreadModel(Model):
    name = "thread"

    def __init__(self, hub: Hub, threads: int, *, retire_after: float = 5.0) -> None:
        self.hub = hub
        self.parked: set[LoopConnection] = set()  # open, but the peer has said nothing
        self._returning: set[LoopConnection] = set()  # given back, not yet in the loop
        self.receive_area = memoryview(bytearray(RECEIVE_SIZE))
        self.max_threads = threads
        self.retire_after = retire_after  # an idle worker ends after this many seconds
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job
        self._queued = 0  # jobs no worker has taken yet
        self._pending = 0  # queued plus running
        self._streams: set[Stream] = set()
        # made once and shared by every parked connection (each would cost 64-72 B)
        self._unpark = self.parked.discard
        self._hand_over_here = self._hand_over

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        if not stream.nonblocking:  # cannot wait in the loop (stdio): a worker now
            self._queue((bound, stream, peer, None))
            return
        self._park(LoopConnection(self.hub, bound, stream, peer, area=self.receive_area,
                                  on_end=self._unpark, hand_over=self._hand_over_here))

    def _park(self, connection: LoopConnection) -> None:
        self.parked.add(connection)
        connection.start()

    def _hand_over(self, connection: LoopConnection) -> None:
        """The peer spoke: its connection leaves the loop for a worker."""
        self.parked.discard(connection)
        self._queue((connection.bound, connection.stream, connection.peer, connection))

    def _give_back(self, parked: LoopConnection) -> None:
        """From a worker: the connection went quiet; the loop waits for it from now."""
        with self._lock:
            self._returning.add(parked)
        self.hub.call_soon(lambda: self._back_to_the_loop(parked))

    def _back_to_the_loop(self, parked: LoopConnection) -> None:
        """On the loop's thread: a worker gave back a connection gone quiet."""
        with self._lock:
            if parked not in self._returning:
                return  # closed meanwhile, at shutdown
            self._returning.discard(parked)
        if self.hub.stopping:
            assert parked.driver is not None
            parked.driver.abort("cut at shutdown")
            parked.stream.close()
            return
        self._park(LoopConnection(self.hub, parked.bound, parked.stream, parked.peer,
                                  area=self.receive_area, on_end=self._unpark,
                                  hand_over=self._hand_over_here, driver=parked.driver,
                                  tally=parked.tally))

    def _queue(self, job: _Job) -> None:
        with self._lock:
            self._pending += 1
            self._queued += 1
        self._grow()
        self._jobs.put(job)

    def _grow(self) -> None:
        """A worker more, if jobs wait that no idle worker will take. Also called by a
        worker that has just taken a job: it may have been counted idle when the job
        after it came, which then waited for a free worker (for ever, behind
        conversations that never end: serial lines)."""
        with self._lock:
            grow = self._queued > self._idle and len(self._workers) < self.max_threads
            if grow:
                worker = threading.Thread(target=self._work, name="hosepipe-worker",
                                          daemon=True)
                self._workers.append(worker)
        if grow:
            worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self.retire_after)
            except queue.Empty:
                with self._lock:  # idle for a while: retire, unless work just arrived
                    if self._queued == 0:
                        self._idle -= 1
                        self._workers.remove(threading.current_thread())
                        return
                    self._idle -= 1
                continue
            with self._lock:
                self._idle -= 1
                self._queued -= job is not None
            if job is None:
                return
            self._grow()
            try:
                self._serve(*job)
            except Exception:
                log.exception("worker: conversation failed")
            finally:
                with self._lock:
                    self._pending -= 1

    def _serve(self, bound: Bound, stream: Stream, peer: str,
               parked: LoopConnection | None) -> None:
        current: list[Stream] = []

        def track(stream: Stream | None) -> None:
            with self._lock:
                if stream is not None:
                    current.append(stream)
                    self._streams.add(stream)
                else:
                    self._streams.difference_update(current)

        if parked is None:
            serve_connection(bound, stream, peer, track)
            return
        assert parked.driver is not None
        if continue_connection(bound, stream, parked.driver, track,
                               rest_after=bound.limits.worker_rest):
            self._give_back(parked)

    def active(self) -> int:
        with self._lock:
            return self._pending + len(self.parked) + len(self._returning)

    def abort(self) -> None:
        for connection in list(self.parked):
            connection.abort("cut at shutdown")
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.abort()

    def close(self) -> None:
        with self._lock:
            workers = list(self._workers)
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            worker.join()
        self._workers.clear()
        # connections still queued when the workers left are closed unanswered
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                bound, stream, peer, parked = job
                stream.close()
                if parked is not None and parked.driver is not None:
                    parked.driver.abort("cut at shutdown")  # counted out by its tally
                else:
                    bound.leave(peer)
        with self._lock:  # given back by a worker after the loop stopped running
            returning = list(self._returning)
            self._returning.clear()
        for parked in returning:
            parked.stream.close()
            if parked.driver is not None:
                parked.driver.abort("cut at shutdown")
