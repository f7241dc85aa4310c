"""One connection driven non-blocking in the hub's selector loop.

The select model runs every connection this way, the thread model those that are
quiet.
A :class:`LoopConnection` is a :class:`~hosepipe.driving.driver.Driver` plus a
non-blocking stream (a socket, a pair of FIFOs, a serial line) whose descriptors are
registered in the hub's selector for what the driver wants:
reading while it ``wants_read``, writing while it has output queued. Bytes go from one
receive buffer shared by the loop to the driver; a single reply goes straight to
``send()`` and only what the stream did not take is queued; several small items leave
in one ``sendmsg``/``writev``. Deadlines are kept lazily: one live timer per connection in the
hub, re-armed when it fires early. Pushes from other threads come through the hub's
``call_soon``.

``tls://`` connections first run the server side of the TLS handshake, non-blocking,
within ``handshake_timeout``; then the same loop runs over the TLS socket (file regions
are copied through it, never ``sendfile``d past the encryption).

A stream that may not be made non-blocking (our own stdio, shared with whoever started
us) is not driven here: the models run it on a thread of their own
(:class:`~hosepipe.servers.blocking.Aside`).

With ``hand_over``, a connection stays here only until its peer has something to say
(the thread model: a worker for each connection that has sent a byte, not for every one
that is merely open): at the first readable event the connection leaves the loop, its
driver and stream going to ``hand_over`` as they are.
"""

from __future__ import annotations

import logging
import math
import selectors
import ssl
import time
from collections.abc import Callable

from hosepipe.driving.driver import Driver, Region
from hosepipe.errors import reason_of
from hosepipe.servers.base import Bound, Tally, limit_log
from hosepipe.servers.hub import Hub
from hosepipe.transports.base import Stream
from hosepipe.transports.streams import SocketStream

__all__ = ["LoopConnection"]

log = logging.getLogger("hosepipe.server")

_WAIT = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class LoopConnection:
    __slots__ = ("area", "bound", "driver", "events", "gone", "hand_over", "hub", "on_end",
                 "pair", "peer", "scheduled", "stream", "tally", "timer_at", "tls", "tls_due",
                 "write_events")

    def __init__(self, hub: Hub, bound: Bound, stream: Stream, peer: str,
                 *, area: memoryview, on_end: Callable[[LoopConnection], None],
                 hand_over: Callable[[LoopConnection], None] | None = None,
                 driver: Driver | None = None, tally: Tally | None = None) -> None:
        """``driver`` and ``tally``: a connection coming back from a worker thread,
        already open (and past its TLS handshake)."""
        self.hub = hub
        self.bound = bound
        self.peer = peer
        self.hand_over = hand_over
        self.gone = False  # handed over: events and timers are no longer ours
        self.area = area  # the loop's receive buffer
        self.on_end = on_end
        self.events = 0  # registered for the read descriptor (or the only one)
        self.write_events = 0  # registered for a separate write descriptor
        self.timer_at = math.inf
        self.scheduled = False  # a drain or read is queued on the hub (call_soon)
        self.driver = driver
        self.tls = bound.tls is not None
        self.tls_due = math.inf
        self.tally = tally or Tally(bound, peer)
        stream.set_blocking(False)
        self.stream = stream
        self.pair = stream.read_fd != stream.write_fd  # FIFOs, pipes: one fd each way

    def start(self) -> None:
        if self.driver is not None:  # back from a worker: wait here for the peer again
            self.driver.waker = self
            self.driver.thread = self.hub.thread
            self.driver.drain()
            self._flush()
            self.update()
            return
        if self.bound.tls is None:
            self._converse()
            return
        assert isinstance(self.stream, SocketStream)
        try:
            self.stream.wrap_tls(self.bound.tls)
        except (OSError, ssl.SSLError) as exc:
            self._refuse(exc)
            return
        self.tls_due = time.monotonic() + self.bound.limits.handshake_timeout
        self._handshake()

    # -- TLS ---------------------------------------------------------------------------
    def _handshake(self) -> None:
        assert isinstance(self.stream, SocketStream)
        try:
            self.stream.handshake_nowait()
        except ssl.SSLWantReadError:
            self._want(selectors.EVENT_READ, self.tls_due)
            return
        except ssl.SSLWantWriteError:
            self._want(selectors.EVENT_WRITE, self.tls_due)
            return
        except (OSError, ssl.SSLError) as exc:
            self._refuse(exc)
            return
        self.tls_due = math.inf
        self._converse()

    def _refuse(self, exc: BaseException | str) -> None:
        reason = exc if isinstance(exc, str) else f"TLS handshake failed: {reason_of(exc)}"
        limit_log.warning(f"tls:{self.bound.local}", "%s: %s", self.tally.label, reason)
        self._unregister()
        self.stream.close()
        self.tally.done(f"refused: {reason}")
        self.on_end(self)

    # -- the conversation ----------------------------------------------------------------
    def _converse(self) -> None:
        self.driver = Driver(self.bound.limits, on_done=self.tally,
                             waker=self, thread=self.hub.thread)
        self.driver.open(self.bound.conversation,
                         self.bound.context(self.peer, offload=self.hand_over is None))
        self._flush()
        self.update()

    def on_ready(self, mask: int = 0) -> None:
        """The selector's callback, ``mask`` the events ready; called with none, the
        driver's waker (see ``__call__``)."""
        if not mask:
            self._wake()
            return
        if self.driver is None:
            self._handshake()
            return
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ:
            if self.hand_over is not None and not self.driver.finished:
                self._leave()
                return
            if self._read() and mask == selectors.EVENT_READ:
                return  # a lone reply left whole and nothing else changed: no update
        self.update()

    # The selector's data for our descriptors is the connection itself, called with the
    # ready mask, and so is its driver's waker, called with none: no bound method is
    # kept for each of thousands of idle connections.
    __call__ = on_ready

    def _leave(self) -> None:
        """The peer has something to say: give the connection to ``hand_over``."""
        assert self.hand_over is not None
        self._want(0, math.inf)
        self.gone = True
        self.hand_over(self)

    def _read(self) -> bool:
        """Receive and answer; True when all that happened is a lone reply that left
        whole, and the driver says no deadline came nearer (see Driver.receive): the
        registered events and the lazy timer still hold."""
        driver = self.driver
        assert driver is not None
        stream = self.stream
        for _ in range(16):  # TLS may hold more decrypted bytes than the socket shows
            if driver.finished or not driver.wants_read:
                return False
            try:
                n = stream.receive_nowait(self.area)
            except _WAIT:
                return False
            except OSError as exc:
                driver.fail(reason_of(exc))
                return False
            out = driver.receive(bytes(self.area[:n]))
            if out is not None:
                if self._send_now(out) and not driver.nearer and not self.tls:
                    return True
            elif driver.out:
                self._flush()
            if not (self.tls and n and stream.buffered()):
                return False
        return False

    def _send_now(self, data: bytes) -> bool:
        """A lone reply: send at once; only what the socket did not take is queued.
        True if it all left."""
        driver = self.driver
        assert driver is not None
        try:
            sent = self.stream.send_nowait(data)
        except _WAIT:
            sent = 0
        except OSError as exc:
            driver.fail(reason_of(exc))
            return False
        if sent < len(data):
            driver.unsent(memoryview(data)[sent:])
            return False
        return True

    def _flush(self) -> None:
        driver = self.driver
        assert driver is not None
        stream = self.stream
        while (head := driver.head()) is not None:
            try:
                if type(head) is memoryview:
                    views = driver.gather()
                    sent = (stream.send_nowait(head) if len(views) == 1
                            else stream.send_views_nowait(views))
                    driver.progress(sent)
                    if sent < sum(map(len, views)):
                        return
                    continue
                assert isinstance(head, Region)
                sent = stream.send_file_nowait(head.fd, head.offset, head.remaining)
            except _WAIT:
                return
            except OSError as exc:
                driver.fail(reason_of(exc))
                return
            if sent == 0:
                driver.region_short()
                return
            driver.progress(sent)

    def on_timer(self, when: float) -> None:
        if when != self.timer_at or self.gone:
            return  # stale: a newer timer replaced this one
        self.timer_at = math.inf
        if self.driver is None:
            if time.monotonic() >= self.tls_due:
                self._refuse(f"TLS handshake not done in "
                             f"{self.bound.limits.handshake_timeout:g} s")
            else:
                self._arm(self.tls_due)
            return
        self.driver.timer()
        self._flush()
        self.update()

    def _wake(self) -> None:
        """The driver got a push: drain it on the loop's thread."""
        if not self.scheduled:
            self.scheduled = True
            self.hub.call_soon(self._drain)

    def _drain(self) -> None:
        self.scheduled = False
        if self.driver is not None and not self.gone:
            self.driver.drain()
            self._flush()
            if self.tls and self.driver.wants_read and self.stream.buffered():
                self._read()
            self.update()

    # -- bookkeeping -------------------------------------------------------------------
    def update(self) -> None:
        """Register the events the driver needs and a timer for its next deadline."""
        driver = self.driver
        if driver is None:
            return
        if driver.finished:
            self._close()
            return
        want = (selectors.EVENT_READ if driver.wants_read else 0) | (
            selectors.EVENT_WRITE if driver.out else 0)
        due = driver.deadline
        if self.pair or want != self.events:
            self._want(want, due)
        elif due < self.timer_at and not self.gone:  # the usual case: only the timer
            self._arm(due)
        if (self.tls and want & selectors.EVENT_READ and not self.scheduled
                and self.stream.buffered()):
            self.scheduled = True  # decrypted bytes wait inside: the fd will not say so
            self.hub.call_soon(self._drain)

    def _want(self, events: int, due: float) -> None:
        if self.gone:
            return
        stream = self.stream
        if not self.pair:
            self.events = self._register(stream.read_fd, self.events, events)
        else:  # a pair of descriptors (FIFOs, pipes): each registered for its direction
            self.events = self._register(stream.read_fd, self.events,
                                         events & selectors.EVENT_READ)
            self.write_events = self._register(stream.write_fd, self.write_events,
                                               events & selectors.EVENT_WRITE)
        self._arm(due)

    def _register(self, fd: int, now: int, events: int) -> int:
        if events != now:
            selector = self.hub.selector
            if not now:
                selector.register(fd, events, self)
            elif not events:
                selector.unregister(fd)
            else:
                selector.modify(fd, events, self)
        return events

    def _arm(self, due: float) -> None:
        if due < self.timer_at:
            self.timer_at = due
            self.hub.call_at(due, self.on_timer)

    def _unregister(self) -> None:
        self._want(0, math.inf)

    def _close(self) -> None:
        self._unregister()
        assert self.driver is not None
        if self.driver.finished == "closed":
            self.stream.send_eof()
        self.stream.close()
        self.on_end(self)

    def abort(self, reason: str) -> None:
        if self.driver is None:
            self._refuse(reason)
            return
        self.driver.abort(reason)
        self.update()
