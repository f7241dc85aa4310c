"""Clients: :class:`Client` and :class:`AsyncClient` for message services, and
:class:`LineClient` for classic line conversations.

``Client(address).request(value)`` sends one framed request and returns the reply
(raising :class:`~hosepipe.errors.RemoteError` for a structured error). For a ``pipe:``
address the client forks a child that runs ``service`` at the other end of two pipes.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from typing import Any

from hosepipe.address import Address, InetAddress, UnixAddress, parse_address
from hosepipe.driving.blocking import serve_stream
from hosepipe.errors import ConnectError, ConnectionClosed, RemoteError, Timeout, UsageError
from hosepipe.limits import Limits
from hosepipe.service import Service
from hosepipe.transports.connect import connect_stream
from hosepipe.transports.streams import Stream
from hosepipe.transports.tls import client_context
from hosepipe.wire import auth, hello
from hosepipe.wire.auth import AuthFailed, Handshake, Role
from hosepipe.wire.codecs import Codec, get_codec
from hosepipe.wire.framing import MAX_FRAME, MAX_LINE, FrameDecoder, LineDecoder, encode_frame

__all__ = ["AsyncClient", "Client", "LineClient", "open_stream"]


def _child_main(service: Service, limits: Limits) -> Callable[[Stream], None]:
    def main(stream: Stream) -> None:
        serve_stream(stream, service, limits, peer="parent", local="pipe:",
                     peer_deadlines=False)  # the child lives as long as its parent's pipes

    return main


def open_stream(
    address: str | Address, *, timeout: float | None = 10.0, service: Service | None = None,
    limits: Limits | None = None, tls: ssl.SSLContext | None = None,
) -> Stream:
    """Connect a blocking stream; ``service`` is what a ``pipe:`` child runs; ``tls`` is
    the client context for tls:// (default: from the HOSEPIPE_TLS_* variables)."""
    child = _child_main(service, limits or Limits()) if service is not None else None
    return connect_stream(address, timeout=timeout, child_main=child, tls=tls)


def _unwrap(envelope: Any) -> Any:
    if isinstance(envelope, dict):
        if "ok" in envelope:
            return envelope["ok"]
        if "error" in envelope:
            raise RemoteError(str(envelope["error"]), str(envelope.get("message", "")))
    raise RemoteError("bad-reply", f"not a reply envelope: {envelope!r:.80}")


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
    ) -> None:
        """``authkey``: run the multiprocessing challenge first. ``raw``: no hello and no
        envelope, for a plain :mod:`multiprocessing.connection` Listener (use the
        ``pickle`` or ``bytes`` codec then)."""
        self.timeout = timeout
        self.raw = raw
        self.codec: Codec = get_codec(codec)
        self._frames = FrameDecoder(max_frame)
        self._leftover = b""  # bytes received after the last reply frame
        self.stream = open_stream(address, timeout=timeout, service=service, tls=tls)
        try:
            if authkey is not None:
                self._authenticate(authkey)
            if not raw:
                self._send(hello.client_hello(codec))
                hello.parse_reply(self._receive())
        except BaseException:
            self.stream.close()
            raise

    def _authenticate(self, authkey: bytes) -> None:
        handshake = Handshake(authkey, Role.CLIENT, os.urandom(40))
        frames, self._frames = self._frames, FrameDecoder(auth.MAX_MESSAGE)
        try:
            while not handshake.done:
                try:
                    replies = handshake.receive(self._receive())
                except AuthFailed as exc:
                    if exc.reply:
                        self._send(exc.reply)
                    raise
                for message in replies:
                    self._send(message)
        except ConnectionClosed as exc:
            raise AuthFailed("the server closed the connection during the authkey "
                             "challenge (a wrong key?)") from exc
        finally:
            self._frames = frames

    def _send(self, payload: bytes) -> None:
        self.stream.send_all(encode_frame(payload), self.timeout)

    def _receive(self) -> bytes:
        """The next reply frame; bytes after it are kept (see :meth:`take_leftover`)."""
        data, self._leftover = self._leftover, b""
        if not data:  # the usual case: one receive brings exactly one reply
            data = self.stream.receive_some(self.timeout)
            payload = self._frames.only_frame(data)
            if payload is not None:
                return payload
            if not data:
                raise ConnectionClosed("the server closed the connection")
        while (payload := self._frames.next_frame()) is None:
            if not data:
                data = self.stream.receive_some(self.timeout)
                if not data:
                    raise ConnectionClosed("the server closed the connection")
            data = self._frames.feed_one(data)
        self._leftover = data
        return payload

    def take_leftover(self) -> bytes:
        """Bytes that arrived after the last reply (raw data that follows it)."""
        data, self._leftover = self._leftover, b""
        return data

    def send_request(self, value: Any) -> None:
        """Send a request without waiting (pair with :meth:`receive_reply`)."""
        self._send(self.codec.encode(value))

    def receive_reply(self) -> Any:
        reply = self.codec.decode(self._receive())
        return reply if self.raw else _unwrap(reply)

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
        return reply if self.raw else _unwrap(reply)

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """An asyncio client for a message service: ``await AsyncClient.connect(address)``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 codec: Codec, timeout: float | None, max_frame: int) -> None:
        self._reader = reader
        self._writer = writer
        self.codec = codec
        self.timeout = timeout
        self._frames = FrameDecoder(max_frame)

    @classmethod
    async def connect(
        cls, address: str | Address, *, codec: str = "msgpack", timeout: float | None = 10.0,
        max_frame: int = MAX_FRAME, tls: ssl.SSLContext | None = None,
    ) -> AsyncClient:
        address = parse_address(address)
        try:
            if isinstance(address, InetAddress) and not address.is_datagram:
                context = (tls or client_context()) if address.scheme == "tls" else None
                opening = asyncio.open_connection(address.host, address.port, ssl=context)
            elif isinstance(address, UnixAddress):
                opening = asyncio.open_unix_connection(address.sockaddr)  # type: ignore[arg-type]
            else:
                raise UsageError(f"AsyncClient connects to tcp://, tls:// or unix://, "
                                 f"not {address}")
            reader, writer = await asyncio.wait_for(opening, timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectError(f"cannot connect to {address}: {exc}") from exc
        client = cls(reader, writer, get_codec(codec), timeout, max_frame)
        try:
            await client._send(hello.client_hello(codec))
            hello.parse_reply(await client._receive())
        except BaseException:
            await client.close()
            raise
        return client

    async def _send(self, payload: bytes) -> None:
        self._writer.write(encode_frame(payload))
        await self._writer.drain()

    async def _receive(self) -> bytes:
        try:
            return await asyncio.wait_for(self._read_frame(), self.timeout)
        except asyncio.TimeoutError as exc:
            raise Timeout(f"no reply in {self.timeout} s") from exc

    async def _read_frame(self) -> bytes:
        while (payload := self._frames.next_frame()) is None:
            data = await self._reader.read(256 * 1024)
            if not data:
                raise ConnectionClosed("the server closed the connection")
            self._frames.feed(data)
        return payload

    async def request(self, value: Any) -> Any:
        await self._send(self.codec.encode(value))
        return _unwrap(self.codec.decode(await self._receive()))

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class LineClient:
    """Send lines and read lines (or everything) from a classic service."""

    def __init__(self, stream: Stream, *, timeout: float | None = 10.0,
                 max_line: int = MAX_LINE) -> None:
        self.stream = stream
        self.timeout = timeout
        self._lines = LineDecoder(max_line)

    def send(self, data: bytes) -> None:
        self.stream.send_all(data, self.timeout)

    def send_line(self, text: str) -> None:
        self.send(text.encode("utf-8", "surrogateescape") + b"\n")

    def read_line(self) -> str:
        while (line := self._lines.next_line()) is None:
            data = self.stream.receive_some(self.timeout)
            if not data:
                raise ConnectionClosed("the server closed the connection before answering")
            self._lines.feed(data)
        return line.body.decode("utf-8", "surrogateescape")

    def read_bare(self, pause: float = Limits().pause) -> bytes:
        """A bare reply: the bytes that arrive until the peer has been quiet for ``pause``
        seconds (the classic rule, from the other side: a reply with no terminator may
        still arrive in pieces); ``b""`` if the peer closes first."""
        reply = bytearray(self.stream.receive_some(self.timeout))
        while reply:
            try:
                more = self.stream.receive_some(pause)
            except Timeout:
                break
            if not more:
                break
            reply += more
        return bytes(reply)

    def read_to_end(self, limit: int = 1 << 24) -> bytes:
        """Everything until the server closes (at most ``limit`` bytes)."""
        chunks = bytearray()
        while data := self.stream.receive_some(self.timeout):
            chunks += data
            if len(chunks) > limit:
                raise UsageError(f"reply longer than {limit} bytes")
        return bytes(chunks)

    def close(self) -> None:
        self.stream.close()
