"""The async model: asyncio Protocols on one event loop (uvloop when installed).

Protocols, not streams: ``data_received`` hands bytes straight to the conversation and
its replies go straight to ``transport.write``, with no task or coroutine per message.
Flow control uses the transport's watermarks: when the peer stops reading,
``pause_writing`` stops our reading too and starts the send-timeout clock. Deadlines
are kept lazily, as in the select model: one timer per connection, re-armed when it
fires early.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any, cast

from hosepipe.servers.base import Binding, Tally, datagram_reply, peer_name
from hosepipe.service import Action, Close, Conversation, Send, SendFile, release

__all__ = ["AsyncRunner", "new_event_loop"]

log = logging.getLogger("hosepipe.server")

FILE_CHUNK = 256 * 1024


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed, else the standard one."""
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _Stream(asyncio.Protocol):
    __slots__ = ("backlog", "binding", "closing", "conversation", "drained", "file_busy",
                 "last_read", "limits", "message_started", "runner", "stalled_at", "tally",
                 "timer", "transport")

    def __init__(self, runner: AsyncRunner, binding: Binding) -> None:
        self.runner = runner
        self.binding = binding
        self.limits = binding.limits
        self.transport: asyncio.Transport | None = None
        self.conversation: Conversation | None = None
        self.closing = False
        self.stalled_at: float | None = None
        self.file_busy = False
        self.backlog: list[Action] = []
        self.timer: asyncio.TimerHandle | None = None  # only while a pause is awaited
        self.drained: asyncio.Future[None] | None = None  # set when writing may resume
        self.message_started: float | None = None  # first byte of a message not yet whole
        self.last_read = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's do not subclass it
        transport = self.transport
        peer = peer_name(transport.get_extra_info("peername"))
        if not self.binding.try_enter(peer):
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tally = Tally(self.binding, peer)
        self.runner.connections.add(self)
        self.last_read = self.runner.loop.time()
        try:
            self.conversation = self.binding.conversation(peer)
            self._carry_out(self.conversation.opened())
        except Exception:
            self._fail()
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conversation is None or self.closing:
            return
        self.last_read = self.runner.loop.time()
        self.tally.received += len(data)
        try:
            self._carry_out(self.conversation.data_received(data))
        except Exception:
            self._fail()
            return
        if not self.conversation.partial:
            self.message_started = None
        elif self.message_started is None:
            self.message_started = self.last_read
        self._arm()

    def eof_received(self) -> bool:
        if self.conversation is not None and not self.closing:
            try:
                self._carry_out(self.conversation.eof_received())
            except Exception:
                self._fail()
        if not self.closing and self.transport is not None:
            self.closing = True
            self.transport.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conversation is None:
            return
        if self.timer is not None:
            self.timer.cancel()
        release(self.backlog)
        self.backlog = []
        if self.drained is not None and not self.drained.done():
            self.drained.set_exception(ConnectionError("connection lost"))
        self.conversation.closed()
        self.conversation = None
        self.runner.connections.discard(self)
        self.binding.leave(self.tally.peer)
        self.tally.done("closed" if exc is None else f"dropped: {exc}")

    def pause_writing(self) -> None:
        assert self.transport is not None
        self.stalled_at = self.runner.loop.time()
        with contextlib.suppress(RuntimeError):
            self.transport.pause_reading()
        self._arm()

    def resume_writing(self) -> None:
        assert self.transport is not None
        self.stalled_at = None
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if not self.closing:
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()

    def _fail(self) -> None:
        log.exception("%s: conversation with %s failed", self.binding.label, self.tally.peer)
        self.abort()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def _carry_out(self, actions: list[Action]) -> None:
        transport = self.transport
        assert transport is not None
        for index, action in enumerate(actions):
            if self.file_busy:
                self.backlog.extend(actions[index:])
                return
            if isinstance(action, Send):
                transport.write(action.data)
                self.tally.sent += len(action.data)
            elif isinstance(action, SendFile):
                self.file_busy = True
                self.runner.loop.create_task(self._send_file(action))
            elif isinstance(action, Close):
                self.closing = True
                transport.close()
                release(actions[index + 1 :])
                return

    async def _send_file(self, action: SendFile) -> None:
        assert self.transport is not None
        try:
            with os.fdopen(action.fd, "rb", closefd=True) as file:
                try:  # zero-copy where the loop can (the standard loop)
                    sent = await self.runner.loop.sendfile(
                        self.transport, file, action.offset, action.size()
                    )
                except NotImplementedError:  # uvloop has no sendfile: copy in chunks
                    sent = await self._copy_file(file.fileno(), action.offset, action.size())
                self.tally.sent += sent
        except (OSError, RuntimeError, ConnectionError) as exc:
            log.warning("%s: sending a file to %s failed: %s", self.binding.label,
                        self.tally.peer, exc)
            self.abort()
            return
        self.file_busy = False
        backlog, self.backlog = self.backlog, []
        self._carry_out(backlog)

    async def _copy_file(self, fd: int, offset: int, count: int) -> int:
        """Write a file region through the transport, waiting whenever it is paused."""
        assert self.transport is not None
        sent = 0
        while sent < count:
            if self.stalled_at is not None:
                self.drained = self.runner.loop.create_future()
                await self.drained
            if self.transport.is_closing():
                raise ConnectionError("the connection closed during the transfer")
            chunk = os.pread(fd, min(count - sent, FILE_CHUNK), offset + sent)
            if not chunk:
                break  # the file shrank
            self.transport.write(chunk)
            sent += len(chunk)
        return sent

    # -- deadlines -------------------------------------------------------------------
    # Deadlines of seconds (idle, send stall, message, handshake) are checked by the
    # runner's sweep (:meth:`check`), so an idle connection holds no timer; only the
    # short pause of a bare classic message gets a timer of its own.
    def _arm(self) -> None:
        if self.conversation is None or self.closing or not self.conversation.wants_pause:
            return
        due = self.last_read + self.limits.pause
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.runner.loop.call_at(due, self._on_pause)

    def _idle(self) -> float:
        assert self.conversation is not None
        return self.conversation.idle_limit or self.limits.idle_timeout

    def _on_pause(self) -> None:
        self.timer = None
        conversation = self.conversation
        if conversation is None or self.closing or not conversation.wants_pause:
            return
        if self.runner.loop.time() - self.last_read >= self.limits.pause:
            try:
                self._carry_out(conversation.paused())
            except Exception:
                self._fail()
        self._arm()

    def check(self, now: float) -> None:
        """The sweep: drop the connection if one of its deadlines has passed."""
        if self.conversation is None or self.closing:
            return
        started = self.message_started
        if started is not None and now - started >= self.limits.message_timeout:
            reason = f"message incomplete after {self.limits.message_timeout:g} s"
        elif self.stalled_at is not None:
            if now - self.stalled_at < self.limits.send_timeout:
                return
            reason = f"accepted no data for {self.limits.send_timeout:g} s"
        elif now - self.last_read >= self._idle() and not self.conversation.wants_pause:
            reason = f"idle for {self._idle():g} s"
        else:
            return
        log.info("%s: %s dropped: %s", self.binding.label, self.tally.peer, reason)
        self.abort()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, binding: Binding) -> None:
        self.binding = binding
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            reply = datagram_reply(self.binding, data, peer_name(addr))
        except Exception:
            log.exception("%s: datagram handler failed", self.binding.label)
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: %s", self.binding.label, exc)


class AsyncRunner:
    """Serves its bindings on one event loop until :meth:`request_stop`."""

    def __init__(self, bindings: list[Binding]) -> None:
        self.bindings = bindings
        self.connections: set[_Stream] = set()
        self.loop = new_event_loop()
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        # signals wake the loop through this pipe (:func:`signal.set_wakeup_fd`)
        self._wake_r, self.wakeup_fd = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self.wakeup_fd, False)
        self.grace = max((b.limits.grace for b in bindings), default=5.0)
        shortest = min((min(b.limits.idle_timeout, b.limits.send_timeout,
                            b.limits.message_timeout, b.limits.handshake_timeout)
                        for b in bindings), default=10.0)
        self.sweep_every = min(1.0, max(0.02, shortest / 10))  # deadlines: +10% at most
        self._sweeper: asyncio.TimerHandle | None = None

    def _sweep(self) -> None:
        now = self.loop.time()
        for connection in list(self.connections):
            connection.check(now)
        self._sweeper = self.loop.call_later(self.sweep_every, self._sweep)

    def run(self) -> None:
        self.loop.add_reader(self._wake_r, self._drain_wakeups)
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.remove_reader(self._wake_r)
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def close_fds(self) -> None:
        """Close the wake-up pipe, once the signal wake-up fd no longer points at it."""
        for fd in (self._wake_r, self.wakeup_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self.wakeup_fd = -1

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 4096):
                pass

    def request_stop(self, *, hurry: bool = False) -> None:
        """Begin the graceful shutdown, or with ``hurry`` end its grace period now
        (safe from other threads and signal handlers)."""
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self.loop.call_soon_threadsafe(self._stop.set)
            if hurry:
                self.loop.call_soon_threadsafe(self._hurry.set)

    async def _serve(self) -> None:
        servers: list[asyncio.Server] = []
        datagrams: list[asyncio.BaseTransport] = []
        for binding in self.bindings:
            assert binding.sock is not None
            if binding.address.is_datagram:
                transport, _ = await self.loop.create_datagram_endpoint(
                    lambda b=binding: _Datagrams(b), sock=binding.sock  # type: ignore[misc]
                )
                datagrams.append(transport)
            else:
                servers.append(await self.loop.create_server(
                    lambda b=binding: _Stream(self, b), sock=binding.sock,
                    ssl=binding.tls,
                    ssl_handshake_timeout=binding.limits.handshake_timeout if binding.tls
                    else None,
                ))
        self._sweeper = self.loop.call_later(self.sweep_every, self._sweep)
        await self._stop.wait()
        self._sweeper.cancel()
        for server in servers:
            server.close()
        for endpoint in datagrams:
            endpoint.close()
        log.info("shutting down: no new connections; %.1f s for %d in flight",
                 self.grace, len(self.connections))
        deadline = self.loop.time() + self.grace
        while self.connections and self.loop.time() < deadline and not self._hurry.is_set():
            await asyncio.sleep(0.02)
        for connection in list(self.connections):
            connection.abort()
        await asyncio.sleep(0)  # let connection_lost run
