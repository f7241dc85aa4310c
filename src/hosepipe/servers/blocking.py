"""One connection served start to end on the calling thread.

The fork model calls :func:`serve_connection`: the TLS handshake for ``tls://``
bindings, then a :class:`~hosepipe.driving.driver.Driver` run over the blocking stream
(:func:`hosepipe.driving.blocking.drive`), then closing and the accounting. The thread
model's workers call :func:`continue_connection` for a connection whose driver was
started in the hub's loop (it had not spoken yet). :class:`Aside` runs connections on
threads of their own for the loop models, when a stream may not be made non-blocking
(our own stdio).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from hosepipe.driving.blocking import Wake, drive
from hosepipe.driving.driver import Driver
from hosepipe.errors import ConnectError, HosepipeError
from hosepipe.servers.base import Bound, Tally, limit_log
from hosepipe.transports.base import Stream
from hosepipe.transports.streams import SocketStream
from hosepipe.transports.tls import secure_accepted

__all__ = ["Aside", "continue_connection", "serve_connection"]


def _no_wake() -> None:
    pass


def serve_connection(bound: Bound, stream: Stream, peer: str,
                     track: Callable[[Stream | None], None] = lambda stream: None) -> None:
    """Serve one connection on this thread. ``track`` is told the stream while it runs
    (and ``None`` after), so that a model can cut it at shutdown."""
    tally = Tally(bound, peer)
    track(stream)  # from here on: a shutdown may cut even the TLS handshake
    try:
        stream.set_blocking(True)
        if bound.tls is not None:
            assert isinstance(stream, SocketStream)
            stream = SocketStream(secure_accepted(stream.sock, bound.tls,
                                                  bound.limits.handshake_timeout), peer)
    except (ConnectError, OSError) as exc:  # the handshake failed, or the peer is gone
        track(None)
        stream.close()
        if bound.tls is not None:
            limit_log.warning(f"tls:{bound.local}", "%s: %s", tally.label, exc)
        tally.done(f"{'refused' if bound.tls is not None else 'dropped'}: {exc}")
        return
    driver = Driver(bound.limits, on_done=tally)
    driver.open(bound.conversation, bound.context(peer))
    continue_connection(bound, stream, driver, track)


def continue_connection(bound: Bound, stream: Stream, driver: Driver,
                        track: Callable[[Stream | None], None] = lambda stream: None, *,
                        rest_after: float | None = None) -> bool:
    """Drive an open connection on this thread to its end, then close it; or, with
    ``rest_after``, until it has been quiet that long: then return True, leaving the
    stream open for the caller to wait on elsewhere."""
    try:
        stream.set_blocking(True)
        wake = Wake() if bound.service.pushes else None
    except OSError as exc:  # the peer is gone, or no descriptor for a wake-up pipe
        stream.close()
        driver.fail(str(exc))  # counted out, as every end is
        return False
    driver.waker = wake.set if wake is not None else _no_wake
    driver.thread = threading.get_ident()
    driver.drain()  # anything pushed while the connection moved here
    track(stream)
    rested = False
    try:
        rested = drive(driver, stream, wake, rest_after=rest_after)
        if not rested:
            with contextlib.suppress(HosepipeError):
                stream.send_eof()
    finally:
        track(None)
        if wake is not None:
            wake.close()
        if not rested:
            stream.close()
            driver.abort("cut at shutdown")  # no-op if it finished; else ends it, accounted
    return rested


class Aside:
    """Connections of a loop model served on threads of their own (blocking streams)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: set[Stream] = set()
        self._threads: set[threading.Thread] = set()

    def start(self, bound: Bound, stream: Stream, peer: str) -> None:
        thread = threading.Thread(target=self._serve, args=(bound, stream, peer),
                                  name="hosepipe-aside", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _serve(self, bound: Bound, stream: Stream, peer: str) -> None:
        def track(current: Stream | None) -> None:
            with self._lock:
                if current is None:
                    self._streams.discard(stream)
                else:
                    self._streams.add(current)

        try:
            serve_connection(bound, stream, peer, track)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def __len__(self) -> int:
        with self._lock:
            return len(self._threads)

    def abort(self) -> None:
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.abort()

    def join(self) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()
