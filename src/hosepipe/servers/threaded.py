"""The thread model: a bounded pool of worker threads, one conversation each.

Accepted connections wait in a queue for the next free worker; the pool grows on
demand up to ``threads`` workers and never beyond, so a flood of clients costs queue
entries (bounded by ``max_connections``), not threads; a worker idle for
``retire_after`` seconds (the ``thread_idle`` limit) ends, so a burst does not leave its
threads behind. On shutdown, the workers finish their conversations within the grace
period; then their streams are cut.
"""

from __future__ import annotations

import logging
import queue
import threading

from hosepipe.servers.base import Bound, Model
from hosepipe.servers.blocking import serve_connection
from hosepipe.transports.streams import Stream

__all__ = ["ThreadModel"]

log = logging.getLogger("hosepipe.server")

_Job = tuple[Bound, Stream, str]


class ThreadModel(Model):
    name = "thread"

    def __init__(self, threads: int, *, retire_after: float = 5.0) -> None:
        self.max_threads = threads
        self.retire_after = retire_after  # an idle worker ends after this many seconds
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job
        self._queued = 0  # jobs no worker has taken yet
        self._pending = 0  # queued plus running
        self._streams: set[Stream] = set()

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        with self._lock:
            self._pending += 1
            self._queued += 1
        self._grow()
        self._jobs.put((bound, stream, peer))

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

    def _serve(self, bound: Bound, stream: Stream, peer: str) -> None:
        current: list[Stream] = []

        def track(stream: Stream | None) -> None:
            with self._lock:
                if stream is not None:
                    current.append(stream)
                    self._streams.add(stream)
                else:
                    self._streams.difference_update(current)

        serve_connection(bound, stream, peer, track)

    def active(self) -> int:
        with self._lock:
            return self._pending

    def abort(self) -> None:
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
                job[1].close()
                job[0].leave(job[2])
