"""Running a driver over a blocking stream, on the calling thread.

Thread-model workers, fork children, ``pipe:`` children and streams that may not be
made non-blocking (``stdio:``) serve a connection this way: send what the driver has
queued, else receive (bounded by the driver's next deadline) and hand the bytes over,
until the driver says the connection is over. A single reply goes straight back to
:meth:`Stream.send_all`, one system call.

A conversation that pushes from other threads (:attr:`Service.pushes`) needs this
thread to wake up while it waits for the peer: the loop then waits with ``poll`` on the
stream and on a wake-up pipe (:class:`Wake`), one system call more per receive, paid
only by such services.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import time

from hosepipe.driving.driver import Driver, Region
from hosepipe.errors import ConnectionClosed, HosepipeError, Timeout
from hosepipe.limits import Limits
from hosepipe.service import Context, Service
from hosepipe.transports.streams import Stream

__all__ = ["Wake", "drive", "serve_stream"]

log = logging.getLogger("hosepipe.server")


class Wake:
    """A pipe that makes a thread blocked in :func:`drive` look at pushed actions."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._w, False)

    def set(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # full: a wake-up is pending
            os.write(self._w, b"\0")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self.fd, 4096):
                pass

    def close(self) -> None:
        for fd in (self.fd, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


def drive(driver: Driver, stream: Stream, wake: Wake | None = None, *,
          rest_after: float | None = None) -> bool:
    """Serve until the driver finishes; transport errors finish it ("dropped: ...").

    With ``rest_after``, return early -- True -- once the connection has been quiet that
    long with nothing held (no partial message, no output, no pause to wait for): the
    caller may wait for the peer somewhere cheaper than a thread (the hub's loop). Else
    return False, when the driver has finished.
    """
    send_timeout = driver.limits.send_timeout
    poller = None
    if wake is not None:
        poller = select.poll()
        poller.register(stream.read_fd, select.POLLIN)
        poller.register(wake.fd, select.POLLIN)
    try:
        while not driver.finished:
            if driver.out:
                _send_head(driver, stream, send_timeout)
                continue
            timeout = driver.receive_timeout()
            if timeout == -1.0:  # no bytes wanted now
                _wait(driver, stream, wake)
                continue
            if rest_after is not None and (timeout is None or timeout > rest_after):
                timeout = rest_after  # whether it rests is asked only once it is quiet
            if poller is not None and not _ready(driver, stream, poller, wake, timeout):
                if _rested(driver, stream, rest_after):
                    return True
                continue
            try:
                data = stream.receive_some(timeout)
            except Timeout:
                if _rested(driver, stream, rest_after):
                    return True
                driver.timer()
                continue
            out = driver.receive(data)
            if out is not None:
                stream.send_all(out, send_timeout)
    except HosepipeError as exc:
        driver.fail(str(exc))
    return False


def _rested(driver: Driver, stream: Stream, rest_after: float | None) -> bool:
    """True if the connection may rest elsewhere: it only waits for its peer, which has
    been quiet ``rest_after`` seconds, and no deadline of its own has come."""
    if rest_after is None or not driver.resting or stream.buffered():
        return False
    now = driver.clock()
    return now - driver.last_read >= rest_after and now < driver.deadline


def _send_head(driver: Driver, stream: Stream, send_timeout: float) -> None:
    head = driver.out[0]
    if type(head) is memoryview:
        views = driver.gather()
        data = b"".join(views) if len(views) > 1 else head
        stream.send_all(data, send_timeout)
        driver.progress(len(data))
        return
    assert isinstance(head, Region)
    remaining = head.remaining
    sent = stream.send_file(head.fd, head.offset, remaining, send_timeout)
    if sent:
        driver.progress(sent)
    if sent < remaining:
        driver.region_short()


def _ready(driver: Driver, stream: Stream, poller: select.poll, wake: Wake | None,
           timeout: float | None) -> bool:
    """Wait for the peer or a push; True when the stream may be read."""
    assert wake is not None
    if stream.buffered():
        return True
    events = poller.poll(None if timeout is None else timeout * 1000)
    if not events:
        driver.timer()
        return False
    for fd, _ in events:
        if fd == wake.fd:
            wake.clear()
            driver.drain()
            return False
    return True


def _wait(driver: Driver, stream: Stream, wake: Wake | None) -> None:
    """Nothing to send and nothing to read (the peer ended its stream, or the
    conversation holds answers or waits for work done elsewhere): wait for a push, the
    next deadline, or the stream to be cut (a shutdown aborts it from another thread)."""
    timeout = driver.timeout()
    if wake is None and timeout is None:  # nothing can happen any more
        driver.abort("closed")
        return
    poller = select.poll()
    if wake is not None:
        poller.register(wake.fd, select.POLLIN)
    cut = stream.cut_watch()
    if cut is not None:
        poller.register(*cut)
    if wake is None and cut is None:
        assert timeout is not None  # (see above)
        time.sleep(timeout)
        driver.timer()
        return
    ready = poller.poll(None if timeout is None else timeout * 1000)
    if not ready:
        driver.timer()
        return
    if wake is not None and any(fd == wake.fd for fd, _ in ready):
        wake.clear()
        driver.drain()
        return
    raise ConnectionClosed(f"{stream.peer}: cut or reset while no bytes were wanted")


def serve_stream(stream: Stream, service: Service, limits: Limits, *, peer: str, local: str,
                 peer_deadlines: bool = True) -> str:
    """Serve one whole conversation of ``service`` over ``stream``, then close it.

    This is how a ``pipe:`` child (``peer_deadlines=False``: its peer is its parent)
    serves its single peer. Returns why it ended; the line saying so is logged at debug
    level only: the child shares its parent's terminal (a menu on it).
    """
    label = f"{service.name} {local}: {peer}"
    wake = Wake() if service.pushes else None
    driver = Driver(limits, peer_deadlines=peer_deadlines, on_done=_LogEnd(label),
                    waker=wake.set if wake is not None else _no_wake)
    try:
        driver.open(service.conversation, Context(peer=peer, local=local, limits=limits))
        drive(driver, stream, wake)
        with contextlib.suppress(HosepipeError):
            stream.send_eof()
    finally:
        stream.close()
        if wake is not None:
            wake.close()
    return driver.finished or "closed"


def _no_wake() -> None:
    pass


class _LogEnd:
    """The driver's ``on_done`` for :func:`serve_stream`: the end, logged at debug level
    (a Tally's info line would land on a terminal the child shares with its parent);
    its ``str()`` names the connection in the driver's own log lines."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, reason: str, received: int, sent: int) -> None:
        log.debug("%s %s (%d B in, %d B out)", self.label, reason, received, sent)

    def __str__(self) -> str:
        return self.label
