"""The select model: every connection non-blocking, in the hub's one selector loop.

Each connection keeps an output queue (bytes and file regions). Reads go to the
conversation; its actions are queued and sent as far as the socket takes them, the
rest when it becomes writable. A connection whose queue passes ``HIGH_WATER`` stops
being read until it drains, so a peer that does not read cannot make us buffer without
limit. Deadlines (pause, idle, send stall) are kept lazily: each connection has at most
one live timer in the hub, re-armed when it fires early.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import selectors
import socket
import time

from hosepipe.errors import HosepipeError
from hosepipe.servers.base import Binding, Model, Tally
from hosepipe.servers.hub import Hub
from hosepipe.service import Action, Close, Conversation, Send, SendFile, release

__all__ = ["SelectModel"]

log = logging.getLogger("hosepipe.server")

HIGH_WATER = 1024 * 1024
# One receive buffer for the whole loop (as uvloop keeps one): large reads take few
# system calls, and each receive copies out only what arrived. ``recv(256 KiB)`` would
# malloc 256 KiB per call instead, an mmap when above glibc's threshold.
RECEIVE_SIZE = 256 * 1024
SENDFILE_CHUNK = 1024 * 1024


class _FileRegion:
    __slots__ = ("fd", "offset", "remaining")

    def __init__(self, action: SendFile) -> None:
        self.fd = action.fd  # ours now: closed when sent or when the connection ends
        self.offset = action.offset
        self.remaining = action.size()


class _Connection:
    __slots__ = ("binding", "closed", "closing", "conversation", "events", "last_progress",
                 "last_read", "limits", "message_started", "model", "out", "queued",
                 "reading", "sock", "tally", "timer_at")

    def __init__(self, model: SelectModel, binding: Binding, sock: socket.socket, peer: str):
        self.model = model
        self.binding = binding
        self.limits = binding.limits
        self.sock = sock
        self.tally = Tally(binding, peer)
        # a list, not a deque: almost always empty, and an empty deque costs ~600 bytes
        self.out: list[memoryview | _FileRegion] = []
        self.queued = 0
        self.reading = True
        self.closing = False
        self.closed = False
        self.events = 0
        now = time.monotonic()
        self.last_read = now
        self.last_progress = now
        self.message_started: float | None = None  # first byte of a message not yet whole
        self.timer_at = math.inf
        self.conversation: Conversation = binding.conversation(peer)

    # -- events ----------------------------------------------------------------------
    def start(self) -> None:
        self._carry_out(self.conversation.opened())

    def on_ready(self, mask: int) -> None:
        try:
            if mask & selectors.EVENT_WRITE and not self.closed:
                self._flush()
            if mask & selectors.EVENT_READ and not self.closed:
                self._read()
            if not self.closed:
                self._update()
        except Exception:  # a faulty service must not take the whole loop down
            log.exception("%s: conversation with %s failed", self.binding.label, self.tally.peer)
            self.finish("dropped: service error")

    def _read(self) -> None:
        try:
            n = self.sock.recv_into(self.model.receive_area)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.finish(f"dropped: {exc.strerror or exc}")
            return
        self.last_read = time.monotonic()
        data = bytes(self.model.receive_area[:n])
        if not data:
            self.reading = False
            self._carry_out(self.conversation.eof_received())
            if not self.closing:
                self.closing = True
                self._flush()
            return
        self.tally.received += len(data)
        self._carry_out(self.conversation.data_received(data))
        if self.closed or not self.conversation.partial:
            self.message_started = None
        elif self.message_started is None:
            self.message_started = self.last_read

    def on_timer(self, when: float) -> None:
        if self.closed or when != self.timer_at:
            return  # stale: a newer timer replaced this one
        self.timer_at = math.inf
        try:
            self._expire()
        except Exception:
            log.exception("%s: conversation with %s failed", self.binding.label, self.tally.peer)
            self.finish("dropped: service error")

    def _expire(self) -> None:
        now = time.monotonic()
        if self.out and now - self.last_progress >= self.limits.send_timeout:
            self.finish(f"dropped: accepted no data for {self.limits.send_timeout:g} s")
            return
        started = self.message_started
        if started is not None and now - started >= self.limits.message_timeout:
            self.finish(f"dropped: message incomplete after {self.limits.message_timeout:g} s")
            return
        quiet = now - self.last_read
        if self.reading and self.conversation.wants_pause and quiet >= self.limits.pause:
            self._carry_out(self.conversation.paused())
        elif self.reading and quiet >= self._idle():
            self.finish(f"idle for {self._idle():g} s")
            return
        if not self.closed:
            self._update()

    # -- actions -----------------------------------------------------------------------
    def _carry_out(self, actions: list[Action]) -> None:
        try:
            for index, action in enumerate(actions):
                if type(action) is Send:
                    self._send(action.data)
                    if self.closed:
                        release(actions[index + 1 :])
                        return
                elif isinstance(action, SendFile):
                    self.out.append(_FileRegion(action))
                elif isinstance(action, Close):
                    self.closing = True
                    self.reading = False
                    release(actions[index + 1 :])
                    break
        except (HosepipeError, OSError) as exc:
            release(actions)
            self.finish(f"dropped: {exc}")
            return
        if self.out or self.closing:
            self._flush()

    def _send(self, data: bytes) -> None:
        """Send at once when nothing is queued (the usual case); queue what is left."""
        if not data:
            return
        if not self.out:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self.finish(f"dropped: {exc.strerror or exc}")
                return
            self.tally.sent += sent
            if sent == len(data):
                return
            self.last_progress = time.monotonic()  # the send deadline starts now
            view = memoryview(data)[sent:]
        else:
            view = memoryview(data)
        self.out.append(view)
        self.queued += len(view)

    def _flush(self) -> None:
        sock = self.sock
        while self.out:
            head = self.out[0]
            try:
                if isinstance(head, memoryview):
                    sent = sock.send(head)
                    self.queued -= sent
                    if sent < len(head):
                        self.out[0] = head[sent:]
                        self._progress(sent)
                        return
                    del self.out[0]
                else:
                    sent = os.sendfile(sock.fileno(), head.fd, head.offset,
                                       min(head.remaining, SENDFILE_CHUNK))
                    head.offset += sent
                    head.remaining -= sent
                    if head.remaining > 0 and sent > 0:
                        self._progress(sent)
                        continue
                    os.close(head.fd)  # sent, or the file shrank underneath us
                    del self.out[0]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.finish(f"dropped: {exc.strerror or exc}")
                return
            self._progress(sent)
        if self.closing:
            self.finish()

    def _progress(self, sent: int) -> None:
        self.tally.sent += sent
        self.last_progress = time.monotonic()

    # -- bookkeeping -------------------------------------------------------------------
    def _update(self) -> None:
        """Register the events we need and make sure a timer covers our next deadline."""
        want = 0
        if self.reading and not self.closing and self.queued < HIGH_WATER:
            want |= selectors.EVENT_READ
        if self.out:
            want |= selectors.EVENT_WRITE
        selector = self.model.hub.selector
        if want != self.events:
            if not self.events:
                selector.register(self.sock, want, self.on_ready)
            elif not want:
                selector.unregister(self.sock)
            else:
                selector.modify(self.sock, want, self.on_ready)
            self.events = want
        if self.out:
            due = self.last_progress + self.limits.send_timeout
        elif self.conversation.wants_pause:
            due = self.last_read + self.limits.pause
        else:
            due = self.last_read + self._idle()
        if self.message_started is not None:
            due = min(due, self.message_started + self.limits.message_timeout)
        if due < self.timer_at:
            self.timer_at = due
            self.model.hub.call_at(due, lambda: self.on_timer(due))

    def _idle(self) -> float:
        return self.conversation.idle_limit or self.limits.idle_timeout

    def finish(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        if self.events:
            self.model.hub.selector.unregister(self.sock)
        for item in self.out:
            if isinstance(item, _FileRegion):
                os.close(item.fd)
        self.out.clear()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        self.sock.close()
        self.conversation.closed()
        self.binding.leave(self.tally.peer)
        self.model.connections.discard(self)
        self.tally.done(reason)


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
        try:
            connection = _Connection(self, binding, sock, peer)
        except Exception:
            log.exception("%s: cannot start a conversation", binding.label)
            sock.close()
            binding.leave(peer)
            return
        self.connections.add(connection)
        connection.start()
        if not connection.closed:
            connection._update()

    def active(self) -> int:
        return len(self.connections)

    def abort(self) -> None:
        for connection in list(self.connections):
            connection.finish("cut at shutdown")
