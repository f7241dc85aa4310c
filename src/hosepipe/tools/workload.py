"""What one ``hosepipe bench`` client sends and what it expects back.

* **echo**: ``size`` bytes ending in a newline; the same bytes back.
* **upper**: a line of ``size`` bytes of lower-case letters; the same line in upper case.
* **square**: the greeting first (answered ``Hello. Nice to see you.``), then a line with
  a number of ``size - 1`` digits; its square, computed here, back.
* **a message service** (``payload`` given): the value as a framed request through
  :class:`hosepipe.AsyncClient`; any reply counts, a structured error is an error.

Classic requests are lines on purpose: a bare message (no newline) can wait for the
service's ``pause`` (50 ms by default) of quiet before it counts as a message, and the
bench would measure the pause, not the service. A reply is read to its last expected
byte and compared, so a short, long or wrong answer is an error, never a fast request.

Workloads are asyncio coroutines: a bench worker runs many clients on one event loop,
as wrk does, because a process per client spends more CPU on waking up than on the
request itself. Connecting (:func:`open_workload`) happens before the starting gun;
:meth:`Workload.start` (square's greeting, the framed hello) after it, so that under
the iterative model a second client's handshake, which waits for the first client to be
done, cannot hold the others up.
"""

from __future__ import annotations

import asyncio
import json
import os
import string
from typing import Any

from hosepipe.address import InetAddress, UnixAddress, parse_address
from hosepipe.client import AsyncClient
from hosepipe.errors import ConnectError, ProtocolError, UsageError
from hosepipe.services.square import GREETING
from hosepipe.transports.tls import client_context

__all__ = ["CLASSIC", "Workload", "check_address", "check_workload", "open_workload"]

CLASSIC = ("echo", "upper", "square")
MAX_SQUARE_DIGITS = 4300


class Workload:
    """One client's connection: :meth:`start` once, then :meth:`request` per request
    (one request, its whole reply, an exception for anything else)."""

    async def start(self) -> None:
        """The unmeasured opening."""

    async def request(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class ExactReply(Workload):
    """A classic request whose reply is known byte for byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 request: bytes, reply: bytes, greeting: tuple[bytes, bytes] | None) -> None:
        self.reader, self.writer = reader, writer
        self.payload, self.expected, self.size = request, reply, len(reply)
        self.greeting = greeting

    async def start(self) -> None:
        if self.greeting is not None:
            self.writer.write(self.greeting[0])
            await self._expect(self.greeting[1])

    async def request(self) -> None:
        self.writer.write(self.payload)  # small: the transport takes it without waiting
        if await self.reader.readexactly(self.size) != self.expected:
            raise ProtocolError("a reply that is not the expected one")

    async def _expect(self, expected: bytes) -> None:
        got = await self.reader.readexactly(len(expected))
        if got != expected:
            raise ProtocolError(f"unexpected reply {got[:60]!r}")

    async def close(self) -> None:
        self.writer.transport.abort()


class Message(Workload):
    """A framed request to a message service."""

    def __init__(self, address: str, value: Any, codec: str, timeout: float) -> None:
        self.address, self.value, self.codec, self.timeout = address, value, codec, timeout
        self.client: AsyncClient | None = None

    async def start(self) -> None:
        self.client = await AsyncClient.connect(self.address, codec=self.codec,
                                                timeout=self.timeout)

    async def request(self) -> None:
        assert self.client is not None
        await self.client.request(self.value)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def _classic_lines(service: str, size: int) -> tuple[bytes, bytes]:
    if service == "square":
        number = "9" * (size - 1)
        return f"{number}\n".encode(), f"{int(number) ** 2}\n".encode()
    letters = (string.ascii_lowercase * (size // 26 + 1))[: size - 1]
    line = f"{letters}\n".encode()
    return line, line.upper() if service == "upper" else line


def check_address(address: str) -> None:
    """Bench clients connect over tcp://, tls:// or unix://."""
    parsed = parse_address(address)
    if not isinstance(parsed, InetAddress | UnixAddress) or parsed.is_datagram:
        raise UsageError(f"bench measures stream services over tcp://, tls:// or unix://, "
                         f"not {parsed}")


def check_workload(service: str, size: int, payload: str | None) -> Any:
    """Validate the options before anything starts; the decoded payload, if any."""
    if payload is not None:
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise UsageError(f"--payload is not JSON: {exc}") from None
    if service not in CLASSIC:
        raise UsageError(f"--service {service} needs --payload JSON (a framed request); "
                         f"without one, bench speaks the classic {', '.join(CLASSIC)}")
    low, high = (2, MAX_SQUARE_DIGITS + 1) if service == "square" else (1, None)
    if size < low or (high is not None and size > high):
        raise UsageError(f"--size must be at least {low}" + (
            f" and at most {high} for square (a number of SIZE-1 digits)" if high else ""))
    return None


async def _connect(address: str, timeout: float) -> tuple[asyncio.StreamReader,
                                                             asyncio.StreamWriter]:
    parsed = parse_address(address)
    if isinstance(parsed, UnixAddress):
        opening = asyncio.open_unix_connection(parsed.sockaddr)  # type: ignore[arg-type]
    else:
        assert isinstance(parsed, InetAddress)
        context = client_context() if parsed.scheme == "tls" else None
        opening = asyncio.open_connection(parsed.host, parsed.port, ssl=context)
    try:
        return await asyncio.wait_for(opening, timeout)
    except asyncio.TimeoutError as exc:
        raise ConnectError(f"cannot connect to {parsed}: timed out") from exc
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConnectError(f"cannot connect to {parsed}: {reason}") from exc


async def open_workload(address: str, service: str, *, size: int, payload: str | None,
                        codec: str = "msgpack", timeout: float = 10.0) -> Workload:
    """One client of the bench, connected (a message service's: at :meth:`start`)."""
    value = check_workload(service, size, payload)
    if payload is not None:
        return Message(address, value, codec, timeout)
    request, reply = _classic_lines(service, size)
    greeting = (b"Hi there!\n", f"{GREETING}\n".encode()) if service == "square" else None
    reader, writer = await _connect(address, timeout)
    return ExactReply(reader, writer, request, reply, greeting)
