"""The hub: one selector loop that owns the listeners of the non-async models.

It accepts on every listener (so one process serves many bindings), opens endpoints
(one conversation at a time on one stream) and opens them again when their
conversation ends, answers datagrams inline, runs timers and callbacks from other
threads (``call_soon``), wakes on signals through a self-pipe, and conducts the graceful
shutdown: stop accepting, give in-flight conversations the grace period, then make
every model end what is left. The select model drives its connections in this same
loop (and the thread model its quiet ones); every model receives its connections through
:meth:`Model.accepted`. Services that take a connection over (``handoff``: exec
programs) get it from the hub directly and are only tracked until they end.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable

from hosepipe.errors import ConnectError, reason_of
from hosepipe.servers.base import Bound, Model, datagram_reply, limit_log
from hosepipe.servers.handoffs import Handoffs
from hosepipe.transports.base import Endpoint, Listener, Stream
from hosepipe.transports.listen import is_transient_accept_error, peer_name

__all__ = ["Hub"]

log = logging.getLogger("hosepipe.server")

ACCEPT_BATCH = 64
TICK = 0.5
EMFILE_BACKOFF = 0.1
PUSH_BYTE = b"\xff"  # written by call_soon; signals write their number (< 0x80)


class Hub:
    """Accepts for every bound binding given, and drives the models they name."""

    def __init__(self, bound: list[Bound], models: dict[str, Model]) -> None:
        self.bound = bound
        self.models = models
        self.selector = selectors.DefaultSelector()
        self.handoffs = Handoffs()
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop_wanted = False
        self._hurry = False
        self._woken = False  # a signal arrived (SIGCHLD: a child to reap)
        self._housekeeping_at = 0.0
        self._soon: deque[Callable[[], None]] = deque()
        self._listening: set[Bound] = set()  # registered in the selector
        self._paused: set[Bound] = set()  # held back by their model (iterative)
        self._endpoints_done: set[Bound] = set()  # served their one conversation
        self._endpoint_opened: dict[Bound, float] = {}  # when each last started one
        self.thread = threading.get_ident()  # the loop's thread, set again by run()
        self.stopping = False
        self.grace = max((b.limits.grace for b in bound), default=5.0)

    @property
    def wakeup_fd(self) -> int:
        """Give this to :func:`signal.set_wakeup_fd` so signals wake the loop."""
        return self._wake_w

    # -- called from anywhere ------------------------------------------------------
    def request_stop(self, *, hurry: bool = False) -> None:
        """Begin the graceful shutdown, or with ``hurry`` end its grace period now
        (safe from signal handlers and other threads)."""
        self._stop_wanted = True
        self._hurry = self._hurry or hurry
        if self._wake_w >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"\0")

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop's thread after the current event (thread-safe;
        pushes to connections driven in this loop come this way)."""
        self._soon.append(callback)
        if threading.get_ident() != self.thread and self._wake_w >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, PUSH_BYTE)

    # -- called from the loop ------------------------------------------------------
    def call_at(self, when: float, callback: Callable[[float], None]) -> None:
        """Call ``callback(when)`` at ``when`` (monotonic). It is given its own time,
        so a connection can pass a bound method and tell a stale timer from its
        latest one without a closure per timer (an idle connection holds one)."""
        heapq.heappush(self._timers, (when, next(self._seq), callback))

    def _run_soon(self) -> None:
        for _ in range(len(self._soon)):  # those queued meanwhile wait for the next round
            self._soon.popleft()()

    def _listen(self, bound: Bound) -> None:
        listener = bound.listener
        if isinstance(listener, Endpoint):
            self._open_endpoint(bound)
            return
        assert listener is not None
        on_ready = self._on_datagram if listener.is_datagram else self._on_accept
        self.selector.register(listener.fileno(), selectors.EVENT_READ,
                               lambda _m: on_ready(bound))
        self._listening.add(bound)

    def _unlisten(self, bound: Bound) -> None:
        if bound in self._listening and isinstance(bound.listener, Listener):
            self.selector.unregister(bound.listener.fileno())
        self._listening.discard(bound)

    def pause_accepting(self, bound: list[Bound]) -> None:
        """Leave new connections of these bindings in the kernel's backlog for now."""
        self._paused.update(bound)
        for one in bound:
            self._unlisten(one)

    def resume_accepting(self, bound: list[Bound]) -> None:
        self._paused.difference_update(bound)
        for one in bound:
            if (one not in self._listening and isinstance(one.listener, Listener)
                    and not self.stopping):
                self._listen(one)

    def _on_accept(self, bound: Bound) -> None:
        for _ in range(ACCEPT_BATCH):
            listener = bound.listener
            if self.stopping or bound in self._paused or not isinstance(listener, Listener):
                return
            try:
                accepted = listener.accept_nowait()
            except OSError as exc:
                level = "transient" if is_transient_accept_error(exc) else "unexpected"
                limit_log.warning("accept", "%s %s: accept failed (%s): %s", bound.label,
                                  bound.local, level, exc.strerror or exc)
                self._back_off(bound)
                return
            if accepted is None:
                return
            self._admit(bound, *accepted)

    def _admit(self, bound: Bound, stream: Stream, peer: str) -> None:
        if not bound.try_enter(peer):
            stream.close()
            return
        if bound.service.handoff:
            self.handoffs.start(bound, stream, peer)
        else:
            self.models[bound.model].accepted(bound, stream, peer)

    def _back_off(self, bound: Bound) -> None:
        """Out of descriptors: stop accepting on this binding for a moment."""
        self._unlisten(bound)

        def resume(_when: float) -> None:
            if not self.stopping and bound not in self._paused:
                self._listen(bound)

        self.call_at(time.monotonic() + EMFILE_BACKOFF, resume)

    # -- endpoints: one conversation at a time ------------------------------------------
    def _open_endpoint(self, bound: Bound) -> None:
        endpoint = bound.listener
        if self.stopping or not isinstance(endpoint, Endpoint):
            return
        try:
            stream, peer = endpoint.open()
        except ConnectError as exc:
            limit_log.warning(f"endpoint:{bound.local}", "%s %s: %s; trying again every "
                              "%g s", bound.label, bound.local, exc, endpoint.retry)
            self.call_at(time.monotonic() + endpoint.retry, lambda _: self._open_endpoint(bound))
            return
        if not bound.on_leave:
            bound.on_leave.append(lambda: self.call_soon(lambda: self._endpoint_ended(bound)))
        self._endpoint_opened[bound] = time.monotonic()
        self._admit(bound, stream, peer)

    def _endpoint_ended(self, bound: Bound) -> None:
        endpoint = bound.listener
        if isinstance(endpoint, Endpoint) and endpoint.rearms:
            # no sooner than `retry` after the last start: a service that speaks and
            # closes at once (daytime on a serial line) must not spin
            due = self._endpoint_opened.get(bound, 0.0) + endpoint.retry
            if due > time.monotonic():
                self.call_at(due, lambda _: self._open_endpoint(bound))
            else:
                self._open_endpoint(bound)
        else:
            self._endpoints_done.add(bound)
            if all(isinstance(b.listener, Endpoint) for b in self.bound) and all(
                    b in self._endpoints_done for b in self.bound):
                self.request_stop()  # nothing left to serve (stdio: one conversation)

    # -- datagrams -------------------------------------------------------------------
    def _on_datagram(self, bound: Bound) -> None:
        listener = bound.listener
        assert listener is not None and isinstance(listener, Listener)
        sock = listener.sock
        assert sock is not None
        for _ in range(ACCEPT_BATCH):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable from an earlier reply
                log.debug("%s: recvfrom: %s", bound.label, reason_of(exc))
                return
            try:
                reply = datagram_reply(bound, data, peer_name(addr))
            except Exception:
                log.exception("%s: datagram handler failed", bound.label)
                continue
            if reply is not None:
                with contextlib.suppress(OSError):
                    sock.sendto(reply, addr)

    # -- the loop ----------------------------------------------------------------------
    def _on_wake(self, _mask: int) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while data := os.read(self._wake_r, 4096):
                if data.strip(PUSH_BYTE):  # a signal's number, or a stop request
                    self._woken = True

    def _run_timers(self) -> float:
        """Fire due timers; return seconds until the next one (at most TICK)."""
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            when, _, callback = heapq.heappop(self._timers)
            callback(when)
        return min(TICK, max(0.0, self._timers[0][0] - now)) if self._timers else TICK

    def _housekeep(self) -> None:
        """Reap children (models and handoffs). Run after a signal woke the loop
        (SIGCHLD) and every TICK, not after every event: a busy loop would otherwise
        look for children thousands of times a second."""
        self._woken = False
        self._housekeeping_at = time.monotonic() + TICK
        for model in self.models.values():
            model.tick()
        self.handoffs.reap()

    def _begin_stop(self) -> float:
        self.stopping = True
        if self.grace <= 0:  # no grace: cut what is in flight before the listeners close,
            self._cut()  # so that nobody sees them closed while a conversation still runs
        for bound in self.bound:
            self._unlisten(bound)
            bound.close()
        for model in self.models.values():
            model.stop_requested(self.grace)
        log.info("shutting down: no new connections; %.1f s for %d in flight",
                 self.grace, self._in_flight())
        return time.monotonic() + self.grace

    def _in_flight(self) -> int:
        return sum(model.active() for model in self.models.values()) + len(self.handoffs)

    def run(self) -> None:
        """Serve until :meth:`request_stop`; return once everything has ended."""
        self.thread = threading.get_ident()
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        for bound in self.bound:
            self._listen(bound)
        deadline = None
        try:
            while True:
                timeout = self._run_timers()
                if self._soon:
                    timeout = 0.0
                for key, mask in self.selector.select(timeout):
                    if self._stop_wanted and deadline is None:
                        deadline = self._begin_stop()  # before serving anyone else
                    key.data(mask)
                if self._soon:
                    self._run_soon()
                if self._woken or time.monotonic() >= self._housekeeping_at:
                    self._housekeep()
                if self._stop_wanted and deadline is None:
                    deadline = self._begin_stop()
                if deadline is not None and (
                    self._hurry or self._in_flight() == 0 or time.monotonic() >= deadline
                ):
                    break
        finally:
            self._finish()

    def _cut(self) -> None:
        """End every conversation and handed-off connection now (twice is harmless)."""
        for model in self.models.values():
            model.abort()
        self.handoffs.terminate()

    def _finish(self) -> None:
        self._cut()
        for model in self.models.values():
            model.close()
        for bound in self.bound:
            bound.close()

    def close_fds(self) -> None:
        """Release the selector and self-pipe, once nothing writes to it any more (the
        owner restores the signal wake-up fd first); also used by forked children."""
        self.selector.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1
