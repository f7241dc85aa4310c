"""One connection driven non-blocking in the hub's selector loop.

The select model runs every connection this way, the iterative model one at a time.
A :class:`LoopConnection` is a :class:`~hosepipe.driving.driver.Driver` plus a
non-blocking socket registered in the hub's selector for what the driver wants:
reading while it ``wants_read``, writing while it has output queued. Bytes go from one
receive buffer shared by the loop to the driver; a single reply goes straight to
``send()`` and only what the socket did not take is queued; several small items leave
in one ``sendmsg``. Deadlines are kept lazily: one live timer per connection in the
hub, re-armed when it fires early. Pushes from other threads come through the hub's
``call_soon``.

``tls://`` connections first run the server side of the TLS handshake, non-blocking,
within ``handshake_timeout``; then the same loop runs over the TLS socket (file regions
are copied through it, never ``sendfile``d past the encryption).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import selectors
import socket
import ssl
import time
from collections.abc import Callable

from hosepipe.driving.driver import Driver, Region
from hosepipe.errors import reason_of
from hosepipe.servers.base import Binding, Tally, limit_log
from hosepipe.servers.hub import Hub

__all__ = ["LoopConnection"]

log = logging.getLogger("hosepipe.server")

SENDFILE_CHUNK = 1024 * 1024
TLS_CHUNK = 256 * 1024
_WAIT = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class LoopConnection:
    __slots__ = ("area", "binding", "driver", "events", "hub", "on_end", "peer", "scheduled",
                 "sock", "tally", "timer_at", "tls", "tls_due")

    def __init__(self, hub: Hub, binding: Binding, sock: socket.socket, peer: str,
                 *, area: memoryview, on_end: Callable[[LoopConnection], None]) -> None:
        self.hub = hub
        self.binding = binding
        self.peer = peer
        self.area = area  # the loop's receive buffer
        self.on_end = on_end
        self.events = 0
        self.timer_at = math.inf
        self.scheduled = False  # a drain or read is queued on the hub (call_soon)
        self.driver: Driver | None = None
        self.tls = binding.tls is not None
        self.tls_due = math.inf
        self.tally = Tally(binding, peer)
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    def start(self) -> None:
        if self.binding.tls is None:
            self._converse()
            return
        try:
            self.sock = self.binding.tls.wrap_socket(self.sock, server_side=True,
                                                     do_handshake_on_connect=False)
        except (OSError, ssl.SSLError) as exc:
            self._refuse(exc)
            return
        self.tls_due = time.monotonic() + self.binding.limits.handshake_timeout
        self._handshake()

    # -- TLS ---------------------------------------------------------------------------
    def _handshake(self) -> None:
        assert isinstance(self.sock, ssl.SSLSocket)
        try:
            self.sock.do_handshake()
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
        limit_log.warning(f"tls:{self.binding.bound}", "%s: %s", self.tally.label, reason)
        self._unregister()
        self.sock.close()
        self.tally.done(f"refused: {reason}")
        self.on_end(self)

    # -- the conversation ----------------------------------------------------------------
    def _converse(self) -> None:
        self.driver = Driver(self.binding.limits, label=self.tally.label,
                             on_done=self.tally.done, waker=self._wake)
        self.driver.open(self.binding.conversation, self.binding.context(self.peer))
        self._flush()
        self.update()

    def on_ready(self, mask: int) -> None:
        if self.driver is None:
            self._handshake()
            return
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ:
            self._read()
        self.update()

    def _read(self) -> None:
        driver = self.driver
        assert driver is not None
        sock = self.sock
        for _ in range(16):  # TLS may hold more decrypted bytes than the socket shows
            if driver.finished or not driver.wants_read:
                return
            try:
                n = sock.recv_into(self.area)
            except _WAIT:
                return
            except OSError as exc:
                driver.fail(reason_of(exc))
                return
            out = driver.receive(bytes(self.area[:n]))
            if out is not None:
                self._send_now(out)
            elif driver.out:
                self._flush()
            if not (self.tls and n and sock.pending()):  # type: ignore[attr-defined]
                return

    def _send_now(self, data: bytes) -> None:
        """A lone reply: send at once; only what the socket did not take is queued."""
        driver = self.driver
        assert driver is not None
        try:
            sent = self.sock.send(data)
        except _WAIT:
            sent = 0
        except OSError as exc:
            driver.fail(reason_of(exc))
            return
        if sent < len(data):
            driver.unsent(memoryview(data)[sent:])

    def _flush(self) -> None:
        driver = self.driver
        assert driver is not None
        sock = self.sock
        while (head := driver.head()) is not None:
            try:
                if type(head) is memoryview:
                    views = driver.gather()
                    if len(views) == 1:
                        sent = sock.send(head)
                    elif self.tls:
                        sent = sock.send(b"".join(views))
                    else:
                        sent = sock.sendmsg(views)
                    driver.progress(sent)
                    if sent < sum(map(len, views)):
                        return
                    continue
                assert isinstance(head, Region)
                sent = self._send_region(head)
            except _WAIT:
                return
            except OSError as exc:
                driver.fail(reason_of(exc))
                return
            if sent == 0:
                driver.region_short()
                return
            driver.progress(sent)

    def _send_region(self, head: Region) -> int:
        if not self.tls:
            return os.sendfile(self.sock.fileno(), head.fd, head.offset,
                               min(head.remaining, SENDFILE_CHUNK))
        chunk = os.pread(head.fd, min(head.remaining, TLS_CHUNK), head.offset)
        return self.sock.send(chunk) if chunk else 0

    def on_timer(self, when: float) -> None:
        if when != self.timer_at:
            return  # stale: a newer timer replaced this one
        self.timer_at = math.inf
        if self.driver is None:
            if time.monotonic() >= self.tls_due:
                self._refuse(f"TLS handshake not done in "
                             f"{self.binding.limits.handshake_timeout:g} s")
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
        if self.driver is not None:
            self.driver.drain()
            self._flush()
            if self.tls and self.driver.wants_read and self.sock.pending():  # type: ignore[attr-defined]
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
        self._want(want, driver.deadline)
        if (self.tls and want & selectors.EVENT_READ and not self.scheduled
                and self.sock.pending()):  # type: ignore[attr-defined]
            self.scheduled = True  # decrypted bytes wait inside: the fd will not say so
            self.hub.call_soon(self._drain)

    def _want(self, events: int, due: float) -> None:
        if events != self.events:
            selector = self.hub.selector
            if not self.events:
                selector.register(self.sock, events, self.on_ready)
            elif not events:
                selector.unregister(self.sock)
            else:
                selector.modify(self.sock, events, self.on_ready)
            self.events = events
        self._arm(due)

    def _arm(self, due: float) -> None:
        if due < self.timer_at:
            self.timer_at = due
            self.hub.call_at(due, lambda: self.on_timer(due))

    def _unregister(self) -> None:
        if self.events:
            self.hub.selector.unregister(self.sock)
            self.events = 0

    def _close(self) -> None:
        self._unregister()
        assert self.driver is not None
        if self.driver.finished == "closed":
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
        self.sock.close()
        self.on_end(self)

    def abort(self, reason: str) -> None:
        if self.driver is None:
            self._refuse(reason)
            return
        self.driver.abort(reason)
        self.update()
