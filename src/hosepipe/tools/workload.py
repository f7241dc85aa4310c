"""What one ``hosepipe bench`` client sends and what it expects back.

* **echo**: ``size`` bytes ending in a newline; the same bytes back.
* **upper**: a line of ``size`` bytes of lower-case letters; the same line in upper case.
* **square**: the greeting first (answered ``Hello. Nice to see you.``), then a line with
  a number of ``size - 1`` digits; its square, computed here, back.
* **a message service** (``payload`` given): the value as a framed request through
  :class:`hosepipe.Client`; any reply counts, a structured error is an error.

Classic requests are lines on purpose: a classic service answers a bare message only
after its ``pause`` (50 ms by default) of quiet, which would measure the pause, not the
service. A reply is read to its last expected byte and compared, so a short, long or
wrong answer is an error, never a fast request.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hosepipe.client import Client
from hosepipe.errors import ConnectionClosed, ProtocolError, UsageError
from hosepipe.services.square import GREETING
from hosepipe.transports.connect import connect_stream
from hosepipe.transports.streams import Stream

__all__ = ["CLASSIC", "Workload", "check_workload", "open_workload"]

CLASSIC = ("echo", "upper", "square")
MAX_SQUARE_DIGITS = 4300


class Workload:
    """One client's connection. :meth:`start` runs once before the measured requests
    (after every client is connected: a handshake there cannot hold up the others'
    connecting, which under the iterative model would wait for the first client);
    :meth:`request` sends one request and waits for its whole reply, raising on
    anything else."""

    def start(self) -> None:
        """The unmeasured opening (square's greeting, the framed hello)."""

    def request(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class ExactReply(Workload):
    """A classic request whose reply is known byte for byte."""

    def __init__(self, stream: Stream, request: bytes, reply: bytes, timeout: float, *,
                 greeting: tuple[bytes, bytes] | None = None) -> None:
        self.stream = stream
        self.payload = request
        self.expected = reply
        self.timeout = timeout
        self.greeting = greeting
        self.view = memoryview(bytearray(len(reply)))

    def start(self) -> None:
        if self.greeting is not None:
            self.stream.send_all(self.greeting[0], self.timeout)
            self.read_reply(self.greeting[1])

    def request(self) -> None:
        self.stream.send_all(self.payload, self.timeout)
        self.read_reply(self.expected)

    def read_reply(self, expected: bytes) -> None:
        got, size = 0, len(expected)
        view = self.view if size <= len(self.view) else memoryview(bytearray(size))
        while got < size:
            count = self.stream.receive_into(view[got:size], self.timeout)
            if count == 0:
                raise ConnectionClosed("the server closed the connection mid-reply")
            got += count
        if view[:size] != expected:
            raise ProtocolError(f"unexpected reply {bytes(view[:min(size, 60)])!r}")

    def close(self) -> None:
        self.stream.close()


class Message(Workload):
    """A framed request to a message service."""

    def __init__(self, address: str, value: Any, codec: str, timeout: float) -> None:
        self.address, self.value, self.codec, self.timeout = address, value, codec, timeout
        self.client: Client | None = None

    def start(self) -> None:
        """Connect and say hello (a Client does both at once)."""
        self.client = Client(self.address, codec=self.codec, timeout=self.timeout)

    def request(self) -> None:
        assert self.client is not None
        self.client.request(self.value)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _classic_lines(service: str, size: int) -> tuple[bytes, bytes]:
    if service == "square":
        number = "9" * (size - 1)
        return f"{number}\n".encode(), f"{int(number) ** 2}\n".encode()
    letters = (string.ascii_lowercase * (size // 26 + 1))[: size - 1]
    line = f"{letters}\n".encode()
    return line, line.upper() if service == "upper" else line


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
    if size < 1 or (service == "square" and size - 1 > MAX_SQUARE_DIGITS):
        raise UsageError("--size must be at least 1 (square: at most "
                         f"{MAX_SQUARE_DIGITS + 1}, a number of SIZE-1 digits)")
    if service == "square" and size < 2:
        raise UsageError("--size for square must be at least 2 (one digit and a newline)")
    return None


def open_workload(address: str, service: str, *, size: int, payload: str | None,
                  codec: str = "msgpack", timeout: float = 10.0) -> Workload:
    """One client of the bench, connected (a message service's: at :meth:`start`)."""
    value = check_workload(service, size, payload)
    if payload is not None:
        return Message(address, value, codec, timeout)
    request, reply = _classic_lines(service, size)
    greeting = (b"Hi there!\n", f"{GREETING}\n".encode()) if service == "square" else None
    return ExactReply(connect_stream(address, timeout=timeout), request, reply, timeout,
                      greeting=greeting)
