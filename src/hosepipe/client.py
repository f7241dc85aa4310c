"""Clients: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio) for message
services, and :class:`LineClient` for classic conversations.

``Client(address).request(value)`` sends one framed request and returns the reply
(raising :class:`~hosepipe.errors.RemoteError` for a structured error). For a ``pipe:``
address the client forks a child that runs ``service`` at the other end of two pipes.
What goes over the wire -- authkey challenge, hello, envelopes, raw regions after a
reply -- is decided in one place, :mod:`hosepipe.wire.messages`; the clients here
only move its bytes.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from hosepipe.address import Address
from hosepipe.async_client import AsyncClient
from hosepipe.driving.blocking import serve_stream
from hosepipe.errors import ConnectionClosed
from hosepipe.limits import Limits
from hosepipe.line_client import LineClient
from hosepipe.service import Service
from hosepipe.transports.connect import connect_stream
from hosepipe.transports.streams import Stream
from hosepipe.wire.framing import MAX_FRAME, encode_frame
from hosepipe.wire.messages import ClientProtocol, NotFramed, run_handshake, unwrap

__all__ = ["AsyncClient", "Client", "LineClient", "NotFramed", "child_main", "open_stream"]


def child_main(service: Service, limits: Limits | None = None) -> Callable[[Stream], None]:
    """What a ``pipe:`` child runs: ``service`` over the pipes to its parent."""
    def main(stream: Stream) -> None:
        serve_stream(stream, service, limits or Limits(), peer="parent", local="pipe:",
                     peer_deadlines=False)  # the child lives as long as its parent's pipes

    return main


def open_stream(
    address: str | Address, *, timeout: float | None = 10.0, service: Service | None = None,
    limits: Limits | None = None, tls: ssl.SSLContext | None = None,
) -> Stream:
    """Connect a blocking stream; ``service`` is what a ``pipe:`` child runs; ``tls`` is
    the client context for tls:// (default: from the HOSEPIPE_TLS_* variables)."""
    child = child_main(service, limits) if service is not None else None
    return connect_stream(address, timeout=timeout, child_main=child, tls=tls)


class Client:
    """A blocking client for a message service. Use as a context manager."""

    def __init__(
        self,
        address: str | Address,
        *,
        codec: str = "msgpack",
        timeout: float | None = 10.0,
        max_frame: int = MAX_FRAME,
        service: Service | None = None,
        authkey: bytes | None = None,
        raw: bool = False,
        tls: ssl.SSLContext | None = None,
        hello_timeout: float | None = None,
    ) -> None:
        """``authkey``: answer the server's multiprocessing challenge first (and
        challenge it back). ``raw``: no hello and no envelope, for a plain
        :mod:`multiprocessing.connection` Listener (use the ``pickle`` or ``bytes``
        codec then). ``hello_timeout``: how long the server may take to answer the
        hello; given, a server that does not answer it as a hosepipe server would
        (no answer in time, a close, bytes that are not a frame) raises
        :class:`~hosepipe.wire.messages.NotFramed`, the cue for a classic fallback.
        Without it the hello waits ``timeout`` and such failures raise as they are."""
        self.timeout = timeout
        self.raw = raw
        self.protocol = ClientProtocol(codec=codec, max_frame=max_frame, authkey=authkey,
                                       raw=raw, tell_classic=hello_timeout is not None)
        self.codec = self.protocol.codec
        self.stream = open_stream(address, timeout=timeout, service=service, tls=tls)
        try:
            self._handshake(timeout if hello_timeout is None else hello_timeout)
        except BaseException:
            self.stream.close()
            raise

    def _handshake(self, hello_timeout: float | None) -> None:
        timeout, self.timeout = self.timeout, hello_timeout
        try:
            run_handshake(self.protocol, self._receive, self._send_bytes, self.timeout)
        finally:
            self.timeout = timeout

    def _send_bytes(self, data: bytes) -> None:
        self.stream.send_all(data, self.timeout)

    def _receive(self) -> bytes:
        """The next reply frame; bytes after it are kept (see :meth:`take_leftover`)."""
        protocol = self.protocol
        data, protocol.leftover = protocol.leftover, b""
        if not data:  # the usual case: one receive brings exactly one reply
            data = self.stream.receive_some(self.timeout)
            payload = protocol.frames.only_frame(data)
            if payload is not None:
                return payload
            if not data:
                raise ConnectionClosed("the server closed the connection")
        while (payload := protocol.pull(data)) is None:
            data = self.stream.receive_some(self.timeout)
            if not data:
                raise ConnectionClosed("the server closed the connection")
        return payload

    def take_leftover(self) -> bytes:
        """Bytes that arrived after the last reply (raw data that follows it)."""
        return self.protocol.take_leftover()

    def send_request(self, value: Any) -> None:
        """Send a request without waiting (pair with :meth:`receive_reply`)."""
        self.stream.send_all(self.protocol.encode(value), self.timeout)

    def receive_reply(self) -> Any:
        return self.protocol.decode(self._receive())

    def request(self, value: Any) -> Any:
        """Send one request and return its reply."""
        # send_request + receive_reply, written out: this is every round trip's path
        codec = self.codec
        try:
            payload = codec.dumps(value)
        except codec.ENCODE_ERRORS as exc:
            raise codec.encode_error(value, exc) from exc
        self.stream.send_all(encode_frame(payload), self.timeout)
        frame = self._receive()
        try:
            reply = codec.loads(frame)
        except Exception as exc:
            raise codec.decode_error(exc) from exc
        return reply if self.raw else unwrap(reply)

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
