"""Work off the Tk thread: worker threads, a queue back to the window, cancellation.

Tk may be called from one thread only, and a window whose thread waits on the network
freezes (the chapter's getfile form did: "the GUI is essentially dead while the download
is in progress"). So every network call runs on a worker thread (:meth:`Pump.submit`),
and what it produces comes back as a callable put on a queue that the Tk thread drains
every ``interval`` milliseconds with ``after()`` (:meth:`Pump.post`). Nothing but the
Tk thread touches a widget.

A :class:`Cancel` is how the window stops a worker. Setting it makes the worker's next
progress callback raise :class:`Cancelled`; a worker blocked in a receive is woken by the
abort function it attached (``stream.abort``: a socket shutdown, safe from any thread),
and the error that the receive then raises is reported as the cancellation it was.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Cancel", "Cancelled", "Pump"]

log = logging.getLogger("hosepipe.gui")
T = TypeVar("T")


class Cancelled(Exception):
    """The user cancelled the work."""


class Cancel:
    """A cancellation flag shared by the Tk thread and one worker."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._abort: Callable[[], None] | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def attach(self, abort: Callable[[], None]) -> None:
        """Call ``abort`` on cancel (at once, if that has already happened)."""
        with self._lock:
            self._abort = abort
            fire = self._event.is_set()
        if fire:
            abort()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            abort = self._abort
        if abort is not None:
            abort()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


class Pump:
    """Worker threads whose results the Tk thread receives through a polled queue."""

    def __init__(self, widget: Any, interval: int = 50) -> None:
        self.widget = widget
        self.interval = interval
        self.ticks: list[Callable[[], None]] = []  # run on the Tk thread at every poll
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._threads: set[threading.Thread] = set()
        self._job: str | None = widget.after(interval, self._poll)

    def post(self, call: Callable[[], None]) -> None:
        """From any thread: run ``call`` on the Tk thread at the next poll."""
        self._queue.put(call)

    def submit(self, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[BaseException], None], name: str = "work") -> None:
        """Run ``work()`` on a new thread; then ``done(result)`` or ``failed(error)`` on
        the Tk thread."""

        def run() -> None:
            try:
                result = work()
            except BaseException as exc:  # every failure goes to the window
                log.debug("%s failed", name, exc_info=True)
                error = exc  # ``exc`` is unbound when the except block ends
                self.post(lambda: failed(error))
            else:
                self.post(lambda: done(result))
            finally:
                self.post(lambda: self._threads.discard(thread))

        thread = threading.Thread(target=run, name=f"hosepipe-gui-{name}", daemon=True)
        self._threads.add(thread)
        thread.start()

    @property
    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def drain(self) -> None:
        """Run every call waiting on the queue now."""
        while True:
            try:
                call = self._queue.get_nowait()
            except queue.Empty:
                return
            call()

    @property
    def stopped(self) -> bool:
        return self._job is None

    def _poll(self) -> None:
        # the next poll first: a call that raises (reported by Tk) must not end polling
        self._job = self.widget.after(self.interval, self._poll)
        deadline = time.monotonic() + 0.02  # never hold the event loop long
        while time.monotonic() < deadline and self._job is not None:
            try:
                call = self._queue.get_nowait()
            except queue.Empty:
                break
            call()
        for tick in list(self.ticks):
            if self._job is None:  # a tick closed the window: the rest must not run
                return
            tick()

    def stop(self) -> None:
        """No more polls (the window is going away)."""
        if self._job is not None:
            self.widget.after_cancel(self._job)
            self._job = None
