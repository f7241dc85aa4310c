"""One accepted connection served start to end on the calling thread.

The iterative, thread and fork models call :func:`serve_connection`: the TLS handshake
for ``tls://`` bindings, then a :class:`~hosepipe.driving.driver.Driver` run over a
blocking :class:`~hosepipe.transports.streams.SocketStream`
(:func:`hosepipe.driving.blocking.drive`), then closing and the accounting.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from hosepipe.driving.blocking import Wake, drive
from hosepipe.driving.driver import Driver
from hosepipe.errors import ConnectError, HosepipeError
from hosepipe.servers.base import Binding, Tally, limit_log
from hosepipe.transports.streams import SocketStream, Stream
from hosepipe.transports.tls import secure_accepted

__all__ = ["serve_connection"]


def _no_wake() -> None:
    pass


def serve_connection(binding: Binding, sock: socket.socket, peer: str,
                     track: Callable[[Stream | None], None] = lambda stream: None) -> None:
    """Serve one connection on this thread. ``track`` is told the stream while it runs
    (and ``None`` after), so that a model can cut it at shutdown."""
    tally = Tally(binding, peer)
    try:
        if binding.tls is not None:
            sock = secure_accepted(sock, binding.tls, binding.limits.handshake_timeout)
    except ConnectError as exc:
        limit_log.warning(f"tls:{binding.bound}", "%s: %s", tally.label, exc)
        tally.done(f"refused: {exc}")
        return
    stream = SocketStream(sock, peer)
    wake = Wake() if binding.service.pushes else None
    driver = Driver(binding.limits, label=tally.label, on_done=tally.done,
                    waker=wake.set if wake is not None else _no_wake)
    track(stream)
    try:
        driver.open(binding.conversation, binding.context(peer))
        drive(driver, stream, wake)
        with contextlib.suppress(HosepipeError):
            stream.send_eof()
    finally:
        track(None)
        stream.close()
        if wake is not None:
            wake.close()
        driver.abort("cut at shutdown")  # no-op if it finished; else ends it, accounted
