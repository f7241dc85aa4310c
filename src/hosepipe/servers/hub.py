"""The hub: one selector loop that owns the listeners of the non-async models.

It accepts on every listening socket (so one process serves many bindings), answers
datagrams inline, runs timers, wakes on signals through a self-pipe, and conducts the
graceful shutdown: stop accepting, give in-flight conversations the grace period,
then make every model end what is left. The select model registers its connections in
this same selector; the other models receive accepted sockets through
:meth:`Model.accepted`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from hosepipe.servers.base import Binding, Model, datagram_reply, limit_log, peer_name
from hosepipe.servers.programs import Programs
from hosepipe.services.program import Program
from hosepipe.transports.listen import close_listener, is_transient_accept_error

__all__ = ["Hub"]

log = logging.getLogger("hosepipe.server")

ACCEPT_BATCH = 64
TICK = 0.5
EMFILE_BACKOFF = 0.1
PUSH_BYTE = b"\xff"  # written by call_soon; signals write their number (< 0x80)


class Hub:
    """Accepts for every binding given, and drives the models they name."""

    def __init__(self, bindings: list[Binding], models: dict[str, Model]) -> None:
        self.bindings = bindings
        self.models = models
        self.selector = selectors.DefaultSelector()
        self.programs = Programs()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop_wanted = False
        self._hurry = False
        self._woken = False  # a signal arrived (SIGCHLD: a child to reap)
        self._housekeeping_at = 0.0
        self._soon: deque[Callable[[], None]] = deque()
        self.thread = threading.get_ident()  # the loop's thread, set again by run()
        self.stopping = False
        self.grace = max((b.limits.grace for b in bindings), default=5.0)

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
        for model in self.models.values():  # a model may be holding this very thread
            model.interrupt(self.grace, hurry=hurry)
        if self._wake_w >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"\0")

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop's thread after the current event (thread-safe;
        a push to a connection of the select model comes this way)."""
        self._soon.append(callback)
        if threading.get_ident() != self.thread and self._wake_w >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, PUSH_BYTE)

    # -- called from the loop ------------------------------------------------------
    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), callback))

    def _run_soon(self) -> None:
        for _ in range(len(self._soon)):  # those queued meanwhile wait for the next round
            self._soon.popleft()()

    def _listen(self, binding: Binding) -> None:
        assert binding.sock is not None
        on_ready = self._on_datagram if binding.address.is_datagram else self._on_accept
        self.selector.register(binding.sock, selectors.EVENT_READ, lambda _m: on_ready(binding))

    def _on_accept(self, binding: Binding) -> None:
        for _ in range(ACCEPT_BATCH):
            if self.stopping or binding.sock is None:
                return
            try:
                conn, addr = binding.sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                level = "transient" if is_transient_accept_error(exc) else "unexpected"
                limit_log.warning("accept", "%s %s: accept failed (%s): %s", binding.label,
                                  binding.bound, level, exc.strerror or exc)
                self._back_off(binding)
                return
            self._admit(binding, conn, peer_name(addr))

    def _admit(self, binding: Binding, conn: socket.socket, peer: str) -> None:
        if not binding.try_enter(peer):
            conn.close()
            return
        if isinstance(binding.service, Program):
            self.programs.start(binding, conn, peer)
        else:
            self.models[binding.model].accepted(binding, conn, peer)

    def _back_off(self, binding: Binding) -> None:
        """Out of descriptors: stop accepting on this binding for a moment."""
        assert binding.sock is not None
        self.selector.unregister(binding.sock)

        def resume() -> None:
            if not self.stopping and binding.sock is not None:
                self._listen(binding)

        self.call_at(time.monotonic() + EMFILE_BACKOFF, resume)

    def _on_datagram(self, binding: Binding) -> None:
        sock = binding.sock
        assert sock is not None
        for _ in range(ACCEPT_BATCH):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable from an earlier reply
                log.debug("%s: recvfrom: %s", binding.label, exc)
                return
            try:
                reply = datagram_reply(binding, data, peer_name(addr))
            except Exception:
                log.exception("%s: datagram handler failed", binding.label)
                continue
            if reply is not None:
                with contextlib.suppress(OSError):
                    sock.sendto(reply, addr)

    def _on_wake(self, _mask: int) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while data := os.read(self._wake_r, 4096):
                if data.strip(PUSH_BYTE):  # a signal's number, or a stop request
                    self._woken = True

    def _run_timers(self) -> float:
        """Fire due timers; return seconds until the next one (at most TICK)."""
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, callback = heapq.heappop(self._timers)
            callback()
        return min(TICK, max(0.0, self._timers[0][0] - now)) if self._timers else TICK

    def _housekeep(self) -> None:
        """Reap children (models and exec programs). Run after a signal woke the loop
        (SIGCHLD) and every TICK, not after every event: a busy select loop would
        otherwise look for children thousands of times a second."""
        self._woken = False
        self._housekeeping_at = time.monotonic() + TICK
        for model in self.models.values():
            model.tick()
        self.programs.reap()

    def _begin_stop(self) -> float:
        self.stopping = True
        for binding in self.bindings:
            if binding.sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(binding.sock)
                close_listener(binding.address, binding.sock)
                binding.sock = None
        for model in self.models.values():
            model.stop_requested(self.grace)
        log.info("shutting down: no new connections; %.1f s for %d in flight",
                 self.grace, self._in_flight())
        return time.monotonic() + self.grace

    def _in_flight(self) -> int:
        return sum(model.active() for model in self.models.values()) + len(self.programs)

    def run(self) -> None:
        """Serve until :meth:`request_stop`; return once everything has ended."""
        self.thread = threading.get_ident()
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        for binding in self.bindings:
            self._listen(binding)
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

    def _finish(self) -> None:
        for model in self.models.values():
            model.abort()
        self.programs.terminate()
        for model in self.models.values():
            model.close()
        for binding in self.bindings:
            if binding.sock is not None:
                close_listener(binding.address, binding.sock)
                binding.sock = None

    def close_fds(self) -> None:
        """Release the selector and self-pipe, once nothing writes to it any more (the
        owner restores the signal wake-up fd first); also used by forked children."""
        self.selector.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1
