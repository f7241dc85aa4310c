"""The async model: asyncio Protocols on one event loop (uvloop when installed).

Protocols, not streams: ``data_received`` hands bytes to the connection's
:class:`~hosepipe.driving.driver.Driver` and a lone reply goes straight to
``transport.write``, with no task or coroutine per message. Queued output moves into
the transport only while it is not paused (``pause_writing``), so the driver's own
queue, send deadline and back-pressure rule here too. Deadlines of seconds (idle,
send, message) are checked by one sweep per loop, so an idle connection holds no timer
(a tenth of the shortest timeout apart, at most a second); a nearer one (the pause)
gets a timer of its own.

Socket listeners are served by asyncio's own accept loop (``create_server``). Other
streams (a FIFO's connections, a serial line, memory://) are accepted by the hub and
handed over (:meth:`AsyncRunner.adopt`): sockets through ``connect_accepted_socket``,
descriptor pairs through ``connect_read_pipe``/``connect_write_pipe``. A stream that may
not be made non-blocking (stdio) is served on a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from hosepipe.driving.driver import Driver, Region
from hosepipe.servers.base import Bound, Model, Tally, datagram_reply, peer_name
from hosepipe.servers.blocking import Aside
from hosepipe.transports.base import Stream
from hosepipe.transports.listen import BACKLOG
from hosepipe.transports.streams import SocketStream

__all__ = ["AsyncModel", "AsyncRunner", "new_event_loop"]

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
    """One connection: asyncio's transport moves the bytes, a Driver keeps the rules.

    Output moves from the driver's queue into the transport only while the transport
    is not paused (``pause_writing``), so that the driver's own queue, deadlines and
    back-pressure apply here as under every other model.
    """

    # (an adopted stream, _Adopted, adds the two it alone needs: an idle socket
    # connection is mostly these objects)
    __slots__ = ("bound", "driver", "reading", "runner", "scheduled", "timer", "timer_at",
                 "transport", "writable", "writer")

    def __init__(self, runner: AsyncRunner, bound: Bound) -> None:
        self.runner = runner
        self.bound = bound
        self.transport: asyncio.Transport | None = None  # reading (and writing: sockets)
        self.writer: asyncio.WriteTransport | None = None  # writing (a pipe's write side)
        self.driver: Driver | None = None
        self.writable = True
        self.reading = True
        self.scheduled = False
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = math.inf

    @property
    def peer(self) -> str | None:
        """Given when the hub accepted (and counted in) the stream: see _Adopted."""
        return None

    @property
    def on_lost(self) -> Callable[[], None] | None:
        """What closes an adopted stream's descriptors once its transports let go."""
        return None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's do not subclass it
        transport = self.transport
        if self.writer is None:  # a socket: one transport both ways
            self.writer = transport
        peer = self.peer
        if peer is None:
            peer = peer_name(transport.get_extra_info("peername"))
            if not self.bound.try_enter(peer):
                transport.abort()
                return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tally = Tally(self.bound, peer)
        self.driver = Driver(self.bound.limits, on_done=tally,
                             waker=self, thread=self.runner.thread)  # __call__
        self.runner.connections.add(self)
        self.driver.open(self.bound.conversation, self.bound.context(peer, offload=True))
        self._pump()
        self._after()

    def data_received(self, data: bytes) -> None:
        driver = self.driver
        if driver is None or driver.finished:
            return
        out = driver.receive(data)
        if out is not None:
            if self.writable:
                self.writer.write(out)  # type: ignore[union-attr]
                if not driver.nearer:  # nothing else changed (see Driver.receive)
                    return
            else:
                driver.unsent(memoryview(out))
        if driver.out:
            self._pump()
        self._after()

    def eof_received(self) -> bool:
        if self.driver is not None:
            self.driver.receive(b"")
            self._pump()
            self._after()
        return True  # keep our side open: the driver closes it

    def connection_lost(self, exc: Exception | None) -> None:
        self.runner.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        if self.writer is not None and self.writer is not self.transport:
            self.writer.abort()  # the reading pipe's end ends the writing one
        if self.on_lost is not None:
            self.runner.loop.call_soon(self.on_lost)  # once both transports let go
        if self.driver is not None:
            self.driver.fail(str(exc) if exc else "the peer closed the connection")

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self._pump()
        self._after()

    def _pump(self) -> None:
        """Move queued output into the transport while it takes more."""
        driver = self.driver
        transport = self.writer
        assert driver is not None and transport is not None
        while self.writable and (head := driver.head()) is not None:
            if type(head) is memoryview:
                views = driver.gather()
                data = b"".join(views) if len(views) > 1 else head
                transport.write(data)
                driver.progress(len(data))
                continue
            assert isinstance(head, Region)
            chunk = os.pread(head.fd, min(head.remaining, FILE_CHUNK), head.offset)
            if not chunk:
                driver.region_short()
                return
            transport.write(chunk)
            driver.progress(len(chunk))

    def _wake(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            self.runner.loop.call_soon_threadsafe(self._drain)

    # the driver's waker is the protocol itself, rather than a bound method made for
    # each of thousands of idle connections
    __call__ = _wake

    def _drain(self) -> None:
        self.scheduled = False
        if self.driver is not None:
            self.driver.drain()
            self._pump()
            self._after()

    def _after(self) -> None:
        """Reading on or off as the driver wants; a timer for a near deadline; close
        the transport once the driver has finished."""
        driver = self.driver
        transport = self.transport
        assert driver is not None and transport is not None
        if driver.finished:
            self._close(driver.finished == "closed")
            return
        if driver.wants_read != self.reading:
            self.reading = driver.wants_read
            with contextlib.suppress(RuntimeError):
                (transport.resume_reading if self.reading else transport.pause_reading)()
        due = driver.deadline
        if due < self.timer_at and due - time.monotonic() < self.runner.sweep_every:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = due
            self.timer = self.runner.loop.call_later(max(0.0, due - time.monotonic()),
                                                     self.check)

    def check(self) -> None:
        """A deadline may have passed (a timer, or the runner's sweep)."""
        self.timer, self.timer_at = None, math.inf
        driver = self.driver
        if driver is None or driver.finished or self.transport is None:
            return
        if driver.deadline <= time.monotonic():
            driver.timer()
            self._pump()
        self._after()

    def _close(self, clean: bool) -> None:
        transport = self.transport
        assert transport is not None and self.writer is not None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if transport.is_closing():
            return
        if not clean:
            self._abort_transports()
            return
        self.writer.close()  # after what the transport still buffers; bounded:
        if self.writer is not transport:
            transport.close()
        self.runner.loop.call_later(self.bound.limits.send_timeout, self._cut_if_open)

    def _cut_if_open(self) -> None:
        if self in self.runner.connections:
            self._abort_transports()  # the peer took nothing for send_timeout

    def _abort_transports(self) -> None:
        for transport in {self.transport, self.writer} - {None}:
            try:
                transport.abort()  # type: ignore[union-attr]
            except NotImplementedError:  # uvloop's read pipes: closing drops nothing
                transport.close()  # type: ignore[union-attr]

    def abort(self) -> None:
        if self.driver is not None:
            self.driver.abort("cut at shutdown")
        self._abort_transports()


class _Adopted(_Stream):
    """A stream the hub accepted and counted in (a FIFO's connection, a serial line,
    ``memory://``, a socket of another listener): its peer is known, and a pair of
    descriptors has descriptors of its own to close."""

    __slots__ = ("on_lost", "peer")

    def __init__(self, runner: AsyncRunner, bound: Bound, peer: str) -> None:
        super().__init__(runner, bound)
        self.peer = peer  # type: ignore[misc]
        self.on_lost: Callable[[], None] | None = None


class _WriteSide(asyncio.BaseProtocol):
    """The protocol of a write pipe: its flow control goes to the connection."""

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream

    def pause_writing(self) -> None:
        self.stream.pause_writing()

    def resume_writing(self) -> None:
        self.stream.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.stream.driver is not None:
            self.stream.driver.fail(str(exc))
            self.stream._after()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, bound: Bound) -> None:
        self.binding = bound
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

    def __init__(self, bound: list[Bound], *, serve: list[Bound]) -> None:
        """``bound``: every async binding (for limits); ``serve``: those whose sockets
        asyncio accepts on itself (the rest come through :meth:`adopt`)."""
        self.bound = serve
        self.connections: set[_Stream] = set()
        self.aside = Aside()  # streams that may not be made non-blocking (stdio)
        self.thread = threading.get_ident()  # the loop's thread, set again by run()
        self.loop = new_event_loop()
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        # signals wake the loop through this pipe (:func:`signal.set_wakeup_fd`)
        self._wake_r, self.wakeup_fd = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self.wakeup_fd, False)
        self.grace = max((b.limits.grace for b in bound), default=5.0)
        shortest = min((min(b.limits.idle_timeout, b.limits.send_timeout,
                            b.limits.message_timeout, b.limits.handshake_timeout)
                        for b in bound), default=10.0)
        self.sweep_every = min(1.0, max(0.02, shortest / 10))  # deadlines: +10% at most
        self._sweeper: asyncio.TimerHandle | None = None

    def _sweep(self) -> None:
        for connection in list(self.connections):
            if connection.timer is None:  # near deadlines have timers of their own
                connection.check()
        self._sweeper = self.loop.call_later(self.sweep_every, self._sweep)

    def run(self) -> None:
        self.thread = threading.get_ident()  # the loop's, given to every driver
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

    def adopt(self, bound: Bound, stream: Stream, peer: str) -> None:
        """Serve a stream the hub accepted (counted in already); any thread."""
        # a tty goes on a thread too: uvloop's write-pipe transport takes its write end
        # being readable for the pipe's reader having gone, and a tty is readable
        # whenever bytes arrive
        if not stream.nonblocking or os.isatty(stream.write_fd):
            self.aside.start(bound, stream, peer)
            return
        self.loop.call_soon_threadsafe(
            lambda: self.loop.create_task(self._adopt(bound, stream, peer)))

    async def _adopt(self, bound: Bound, stream: Stream, peer: str) -> None:
        protocol = _Adopted(self, bound, peer)
        try:
            if isinstance(stream, SocketStream):
                stream.set_blocking(False)
                await self.loop.connect_accepted_socket(lambda: protocol, stream.sock,
                                                        ssl=bound.tls)
                return
            stream.set_blocking(False)
            protocol.on_lost = stream.close  # the descriptors are the stream's to close
            writer, _ = await self.loop.connect_write_pipe(
                lambda: _WriteSide(protocol), os.fdopen(stream.write_fd, "wb", closefd=False))
            protocol.writer = writer
            await self.loop.connect_read_pipe(
                lambda: protocol, os.fdopen(stream.read_fd, "rb", closefd=False))
            if type(self.loop).__module__.startswith("uvloop") and hasattr(stream, "owned"):
                # libuv closes a pipe's descriptor with its transport (closefd=False or
                # not): closing them again would close numbers reused meanwhile
                stream.owned = False
        except (OSError, ValueError) as exc:
            log.warning("%s %s: cannot serve %s: %s", bound.label, bound.local, peer, exc)
            stream.close()
            bound.leave(peer)

    async def _serve(self) -> None:
        servers: list[asyncio.Server] = []
        datagrams: list[asyncio.BaseTransport] = []
        for bound in self.bound:
            listener = bound.listener
            sock = getattr(listener, "sock", None)
            if sock is None:
                continue  # accepted by the hub, handed over through adopt()
            if bound.address.is_datagram:
                transport, _ = await self.loop.create_datagram_endpoint(
                    lambda b=bound: _Datagrams(b), sock=sock  # type: ignore[misc]
                )
                datagrams.append(transport)
            else:
                servers.append(await self.loop.create_server(
                    lambda b=bound: _Stream(self, b), sock=sock, backlog=BACKLOG,
                    ssl=bound.tls,
                    ssl_handshake_timeout=bound.limits.handshake_timeout if bound.tls
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
        self.aside.abort()
        await asyncio.sleep(0)  # let connection_lost run
        self.aside.join()


class AsyncModel(Model):
    """The async model as the hub sees it, for the streams the hub accepts itself
    (everything but sockets): they go to the runner's loop."""

    name = "async"

    def __init__(self, runner: AsyncRunner) -> None:
        self.runner = runner

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        self.runner.adopt(bound, stream, peer)

    def active(self) -> int:
        return len(self.runner.connections) + len(self.runner.aside)
