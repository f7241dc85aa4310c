"""The relay as a service: ``hosepipe relay --listen A B`` and ``relay:B`` bindings.

A relay does not converse, it joins: each connection accepted on A is taken over
(:attr:`Service.handoff`, as ``exec:`` programs are) and relayed to a new connection to
B by :func:`~hosepipe.tools.relay.relay_streams` on a thread of its own, so the bytes
move with ``splice(2)`` and never pass through a conversation. What the relay gets from
running inside the superserver is everything else a service gets: signal handlers
before the readiness line, ``max_connections`` and ``max_per_client`` (a connection over
them is closed at once, logged at a bounded rate), the grace period at shutdown (then
every relay still running is stopped through one shared stop pipe), ``--workers``, and
a place in a TOML file beside other services::

    [[bind]]
    service = "relay:unix:///run/app.sock"
    address = "tcp://0.0.0.0:8022"

The hub keeps its own copy of a connection only until :meth:`Relay.take_over` returns
(it closes it then), so the relay works on duplicates of the descriptors.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import ssl
import threading
from typing import ClassVar, TextIO

from hosepipe.address import Address, parse_address
from hosepipe.errors import ConfigError, HosepipeError
from hosepipe.service import Handoff, Service
from hosepipe.tools.ends import End, as_end, open_end
from hosepipe.tools.hexdump import Dump
from hosepipe.tools.relay import RelayOptions, relay_streams
from hosepipe.transports.base import Stream
from hosepipe.transports.streams import FdStream, SocketStream
from hosepipe.transports.tls import secure_accepted

__all__ = ["Relay"]

log = logging.getLogger("hosepipe.relay")


class _RelayThread(Handoff):
    """One relay running on its thread; stopped through the service's stop pipe."""

    def __init__(self, service: Relay, first: End, number: int) -> None:
        self.service = service
        self.failed = False
        self._thread = threading.Thread(target=self._main, args=(first, number),
                                        name=f"relay-{number}", daemon=True)
        self._thread.start()

    def _main(self, first: End, number: int) -> None:
        try:
            self.service.run_one(first, number)
        except Exception:
            self.failed = True
            log.exception("relay #%d from %s failed", number, first.label)

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else int(self.failed)

    def terminate(self) -> None:
        self.service.stop_all()  # shutdown only: every relay ends together

    def kill(self) -> None:
        self.service.stop_all()

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} still running")
        return int(self.failed)


class Relay(Service):
    """Relay every connection to a new connection to ``target``."""

    name: ClassVar[str] = "relay"
    handoff: ClassVar[bool] = True

    def __init__(self, target: str | Address, options: RelayOptions | None = None, *,
                 tls: ssl.SSLContext | None = None, dump_to: TextIO | None = None) -> None:
        try:
            self.target = parse_address(target)
        except HosepipeError as exc:
            raise ConfigError(f"relay: {exc}") from exc
        self.options = options or RelayOptions()
        self.tls = tls
        self.dump_to = dump_to
        self._numbers = itertools.count(1)
        self._stop_r, self._stop_w = os.pipe()
        self._closed = False

    def take_over(self, stream: object, peer: str) -> Handoff:
        assert isinstance(stream, Stream)
        return _RelayThread(self, _own_end(stream, peer), next(self._numbers))

    def run_one(self, first: End, number: int) -> None:
        """Relay one accepted connection (on its thread) until both directions end."""
        try:
            if self.tls is not None:
                assert first.sock is not None
                first = End(first.label, sock=secure_accepted(
                    first.sock, self.tls, self.options.connect_timeout))
            second = open_end(self.target, timeout=self.options.connect_timeout)
        except HosepipeError as exc:
            first.close(abort=True)
            log.warning("relay #%d from %s: %s", number, first.label, exc)
            return
        except BaseException:
            first.close(abort=True)
            raise
        log.info("relay #%d: %s -> %s", number, first.label, self.target)
        dump = Dump(self.dump_to, number) if self.dump_to is not None else None
        result = relay_streams(first, second, self.options, dump=dump, stop_fd=self._stop_r)
        log.info("relay #%d: %s after %.3f s (> %d B, < %d B)%s", number, result.reason,
                 result.seconds, result.forward, result.backward,
                 "".join(f"; {e}" for e in result.errors))

    def stop_all(self) -> None:
        """End every relay in flight at once (from any thread)."""
        if not self._closed:
            with contextlib.suppress(OSError):
                os.write(self._stop_w, b"x")  # never read: stays readable for every relay

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._stop_r)
            os.close(self._stop_w)


def _own_end(stream: Stream, peer: str) -> End:
    """An :class:`End` on duplicates of the stream's descriptors (the hub closes its own)."""
    if isinstance(stream, SocketStream):
        return End(peer, sock=stream.sock.dup())
    read_fd = os.dup(stream.read_fd)
    write_fd = read_fd if stream.write_fd == stream.read_fd else os.dup(stream.write_fd)
    return as_end(FdStream(read_fd, write_fd, peer), peer)
