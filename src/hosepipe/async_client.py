"""AsyncClient: the asyncio twin of :class:`~hosepipe.client.Client`.

It speaks the same protocol (:class:`~hosepipe.wire.messages.ClientProtocol`: authkey
challenge, hello, envelopes, raw regions) over an asyncio stream pair:
``asyncio.open_connection`` for tcp:// and tls://, ``open_unix_connection`` for
unix://, and for ``pipe:`` a forked child serving ``service`` whose two pipes are
handed to the event loop (``connect_read_pipe`` / ``connect_write_pipe``); closing the
client ends and reaps that child. ``fifo://`` registers on a thread (the handshake waits
for the server) and hands its two FIFOs to the loop the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import ssl
from dataclasses import dataclass
from typing import Any

from hosepipe.address import Address, InetAddress, PipeAddress, UnixAddress, parse_address
from hosepipe.errors import ConnectError, ConnectionClosed, Timeout, UsageError, reason_of
from hosepipe.service import Service
from hosepipe.transports.connect import ChildStream, connect_stream
from hosepipe.transports.fifo import FifoAddress
from hosepipe.transports.streams import FdStream
from hosepipe.transports.tls import client_context
from hosepipe.wire.framing import MAX_FRAME
from hosepipe.wire.messages import ClientProtocol, run_handshake_async

__all__ = ["AsyncClient"]

RECEIVE_SIZE = 256 * 1024


@dataclass
class _Link:
    """The asyncio streams of one connection, and what else closing it must end."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    child: FdStream | None = None  # a pipe: child (ended and reaped on close), FIFOs
    read_transport: asyncio.BaseTransport | None = None  # its read pipe

    async def close(self) -> None:
        self.writer.close()
        if self.child is None:
            with contextlib.suppress(OSError, ConnectionError):
                await self.writer.wait_closed()
            return
        if self.read_transport is not None:
            self.read_transport.close()
        self.child.close()  # SIGTERM and reap: the child ends at once
        self.child = None


async def _open_pipes(child: FdStream) -> _Link:
    """asyncio streams over the two descriptors of a ``pipe:`` child's pipes or a
    ``fifo:`` client's FIFOs (the loop owns them now)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=RECEIVE_SIZE)
    child.owned = False  # the transports below close the descriptors
    link = _Link(reader, None, child)  # type: ignore[arg-type]  # writer set below
    link.read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(child.read_fd, "rb", buffering=0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(child.write_fd, "wb", buffering=0))
    link.writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return link


async def _open_fifo(address: Address, timeout: float | None) -> _Link:
    """A fifo: connection: registered on a thread (it waits for the server's answer)."""
    loop = asyncio.get_running_loop()
    stream = await loop.run_in_executor(
        None, functools.partial(connect_stream, address, timeout=timeout))
    assert isinstance(stream, FdStream)
    try:
        return await _open_pipes(stream)
    except BaseException:
        stream.owned = True
        stream.close()
        raise


async def _open(address: Address, tls: ssl.SSLContext | None,
                service: Service | None, timeout: float | None = None) -> _Link:
    if isinstance(address, InetAddress) and not address.is_datagram:
        context = (tls or client_context()) if address.scheme == "tls" else None
        return _Link(*await asyncio.open_connection(address.host, address.port, ssl=context))
    if isinstance(address, UnixAddress):
        return _Link(*await asyncio.open_unix_connection(address.sockaddr))  # type: ignore[arg-type]
    if isinstance(address, PipeAddress):
        if service is None:
            raise UsageError("pipe: needs a service to run in the child (service=...)")
        from hosepipe.client import child_main  # noqa: PLC0415 - client imports this module

        child = ChildStream.fork(child_main(service))
        try:
            return await _open_pipes(child)
        except BaseException:
            child.owned = True
            child.close()
            raise
    if isinstance(address, FifoAddress):
        return await _open_fifo(address, timeout)
    raise UsageError(f"AsyncClient connects to tcp://, tls://, unix://, fifo:// or pipe:, "
                     f"not {address}")


class AsyncClient:
    """An asyncio client for a message service: ``await AsyncClient.connect(address)``."""

    def __init__(self, link: _Link, protocol: ClientProtocol, timeout: float | None) -> None:
        self._link = link
        self._reader = link.reader
        self._writer = link.writer
        self.protocol = protocol
        self.codec = protocol.codec
        self.timeout = timeout

    @classmethod
    async def connect(
        cls, address: str | Address, *, codec: str = "msgpack", timeout: float | None = 10.0,
        max_frame: int = MAX_FRAME, tls: ssl.SSLContext | None = None,
        authkey: bytes | None = None, raw: bool = False, service: Service | None = None,
        hello_timeout: float | None = None,
    ) -> AsyncClient:
        """Connect and run the handshake; the arguments are :class:`Client`'s."""
        address = parse_address(address)
        try:
            link = await asyncio.wait_for(_open(address, tls, service, timeout), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectError(f"cannot connect to {address}: {reason_of(exc)}") from exc
        protocol = ClientProtocol(codec=codec, max_frame=max_frame, authkey=authkey, raw=raw,
                                  tell_classic=hello_timeout is not None)
        client = cls(link, protocol, timeout)
        try:
            await client._handshake(timeout if hello_timeout is None else hello_timeout)
        except BaseException:
            await client.close()
            raise
        return client

    async def _handshake(self, hello_timeout: float | None) -> None:
        timeout, self.timeout = self.timeout, hello_timeout
        try:
            await run_handshake_async(self.protocol, self._receive, self.send_raw, self.timeout)
        finally:
            self.timeout = timeout

    async def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (a raw region, such as an upload's contents)."""
        self._writer.write(data)
        await self._writer.drain()

    async def _receive(self) -> bytes:
        try:
            return await asyncio.wait_for(self._read_frame(), self.timeout)
        except asyncio.TimeoutError as exc:
            raise Timeout(f"no reply in {self.timeout:g} s") from exc

    async def _read_frame(self) -> bytes:
        data = self.protocol.take_leftover()
        while (payload := self.protocol.pull(data)) is None:
            data = await self._reader.read(RECEIVE_SIZE)
            if not data:
                raise ConnectionClosed("the server closed the connection")
        return payload

    def take_leftover(self) -> bytes:
        """Bytes that arrived after the last reply (the start of a raw region)."""
        return self.protocol.take_leftover()

    async def read_raw(self, size: int = RECEIVE_SIZE) -> bytes:
        """Up to ``size`` raw bytes (those after the last reply first); ``b""`` at the end
        of the stream."""
        if leftover := self.protocol.leftover[:size]:
            self.protocol.leftover = self.protocol.leftover[len(leftover) :]
            return leftover
        try:
            return await asyncio.wait_for(self._reader.read(size), self.timeout)
        except asyncio.TimeoutError as exc:
            raise Timeout(f"nothing received in {self.timeout:g} s") from exc

    async def send_request(self, value: Any) -> None:
        await self.send_raw(self.protocol.encode(value))

    async def receive_reply(self) -> Any:
        return self.protocol.decode(await self._receive())

    async def request(self, value: Any) -> Any:
        await self.send_request(value)
        return await self.receive_reply()

    async def close(self) -> None:
        await self._link.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
