"""The select model: every connection non-blocking, in the hub's one selector loop.

Each connection is a :class:`~hosepipe.driving.driver.Driver` plus a socket registered
in the hub's selector for what the driver wants: reading while it ``wants_read``,
writing while it has output queued. Bytes go from one receive buffer shared by the
loop (as uvloop keeps one: large reads, one copy of what arrived) to the driver; a
single reply goes straight to ``send()``, and only what the socket did not take is
queued. Deadlines are kept lazily: one live timer per connection in the hub, re-armed
when it fires early. Pushes from other threads reach the connection through the hub's
``call_soon`` (the hub's wake-up pipe).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import selectors
import socket

from hosepipe.driving.driver import Driver, Region
from hosepipe.servers.base import Binding, Model, Tally
from hosepipe.servers.hub import Hub

__all__ = ["SelectModel"]

log = logging.getLogger("hosepipe.server")

# One receive buffer for the whole loop (as uvloop keeps one): large reads take few
# system calls, and each receive copies out only what arrived. ``recv(256 KiB)`` would
# malloc 256 KiB per call instead, an mmap when above glibc's threshold.
RECEIVE_SIZE = 256 * 1024
SENDFILE_CHUNK = 1024 * 1024


class _Connection:
    __slots__ = ("driver", "events", "model", "scheduled", "sock", "timer_at")

    def __init__(self, model: SelectModel, binding: Binding, sock: socket.socket, peer: str):
        self.model = model
        self.sock = sock
        self.events = 0
        self.timer_at = math.inf
        self.scheduled = False  # a drain is queued on the hub (call_soon)
        tally = Tally(binding, peer)
        self.driver = Driver(binding.limits, label=tally.label, on_done=tally.done,
                             waker=self._wake)
        self.driver.open(binding.conversation, binding.context(peer))

    # -- events ----------------------------------------------------------------------
    def on_ready(self, mask: int) -> None:
        driver = self.driver
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ and not driver.finished:
            self._read()
        self.update()

    def _read(self) -> None:
        area = self.model.receive_area
        try:
            n = self.sock.recv_into(area)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.driver.fail(exc.strerror or str(exc))
            return
        out = self.driver.receive(bytes(area[:n]))
        if out is not None:
            self._send_now(out)
        elif self.driver.out:
            self._flush()

    def _send_now(self, data: bytes) -> None:
        """A lone reply: send at once; only what the socket did not take is queued."""
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self.driver.fail(exc.strerror or str(exc))
            return
        if sent < len(data):
            self.driver.unsent(memoryview(data)[sent:])

    def _flush(self) -> None:
        driver = self.driver
        sock = self.sock
        while (head := driver.head()) is not None:
            try:
                if type(head) is memoryview:
                    views = driver.gather()
                    sent = sock.sendmsg(views) if len(views) > 1 else sock.send(head)
                    driver.progress(sent)
                    if sent < sum(map(len, views)):
                        return
                    continue
                assert isinstance(head, Region)
                sent = os.sendfile(sock.fileno(), head.fd, head.offset,
                                   min(head.remaining, SENDFILE_CHUNK))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                driver.fail(exc.strerror or str(exc))
                return
            if sent == 0:
                driver.region_short()
                return
            driver.progress(sent)

    def on_timer(self, when: float) -> None:
        if when != self.timer_at:
            return  # stale: a newer timer replaced this one
        self.timer_at = math.inf
        self.driver.timer()
        self._flush()
        self.update()

    def _wake(self) -> None:
        """The driver got a push: drain it on the loop's thread."""
        if not self.scheduled:
            self.scheduled = True
            self.model.hub.call_soon(self._drain)

    def _drain(self) -> None:
        self.scheduled = False
        self.driver.drain()
        self._flush()
        self.update()

    # -- bookkeeping -------------------------------------------------------------------
    def update(self) -> None:
        """Register the events the driver needs and a timer for its next deadline."""
        driver = self.driver
        if driver.finished:
            self._close()
            return
        want = (selectors.EVENT_READ if driver.wants_read else 0) | (
            selectors.EVENT_WRITE if driver.out else 0)
        if want != self.events:
            selector = self.model.hub.selector
            if not self.events:
                selector.register(self.sock, want, self.on_ready)
            elif not want:
                selector.unregister(self.sock)
            else:
                selector.modify(self.sock, want, self.on_ready)
            self.events = want
        due = driver.deadline
        if due < self.timer_at:
            self.timer_at = due
            self.model.hub.call_at(due, lambda: self.on_timer(due))

    def _close(self) -> None:
        if self.events:
            self.model.hub.selector.unregister(self.sock)
            self.events = 0
        if self.driver.finished == "closed":
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
        self.sock.close()
        self.model.connections.discard(self)


class SelectModel(Model):
    name = "select"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.connections: set[_Connection] = set()
        self.receive_area = memoryview(bytearray(RECEIVE_SIZE))

    def accepted(self, binding: Binding, sock: socket.socket, peer: str) -> None:
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(self, binding, sock, peer)
        self.connections.add(connection)
        connection._flush()
        connection.update()

    def active(self) -> int:
        return len(self.connections)

    def abort(self) -> None:
        for connection in list(self.connections):
            connection.driver.abort("cut at shutdown")
            connection.update()
