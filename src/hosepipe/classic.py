"""Client helpers for the classic services, used by the CLI and by tests.

Each takes an address (any stream form, or udp:// where the service has one) and
returns what the service answered. ``bare=True`` sends messages without a newline,
the way tutorial scripts do, and relies on the server's pause rule to end each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hosepipe.address import Address, InetAddress, parse_address
from hosepipe.client import LineClient, open_stream
from hosepipe.errors import ConnectionClosed, ProtocolError, Timeout
from hosepipe.services import BUILTINS
from hosepipe.services.clocks import rfc868_decode
from hosepipe.transports.connect import connect_datagram

__all__ = ["daytime", "echo", "ni", "rfc868_time", "square", "upper"]


def _is_udp(address: Address) -> bool:
    return isinstance(address, InetAddress) and address.is_datagram


def _datagram(address: Address, payload: bytes, timeout: float) -> bytes:
    with connect_datagram(address, timeout=timeout) as sock:
        sock.send(payload)
        try:
            return sock.recv(65535)
        except TimeoutError as exc:
            raise Timeout(f"no answer from {address} in {timeout:g} s") from exc


def _connect(address: Address, service: str, timeout: float) -> LineClient:
    stream = open_stream(address, timeout=timeout, service=BUILTINS[service]())
    return LineClient(stream, timeout=timeout)


def echo(address: str | Address, message: str, *, timeout: float = 10.0) -> str:
    """Send ``message`` and return what came back."""
    address = parse_address(address)
    payload = message.encode("utf-8", "surrogateescape") + b"\n"
    if _is_udp(address):
        reply = _datagram(address, payload, timeout)
    else:
        client = _connect(address, "echo", timeout)
        try:
            client.send(payload)
            client.stream.send_eof()
            reply = client.read_to_end()
        finally:
            client.close()
    return reply.decode("utf-8", "surrogateescape").removesuffix("\n")


def _speaks_first(address: Address, service: str, timeout: float) -> bytes:
    if _is_udp(address):
        return _datagram(address, b"", timeout)
    client = _connect(address, service, timeout)
    try:
        return client.read_to_end(limit=4096)
    finally:
        client.close()


def daytime(address: str | Address, *, timeout: float = 10.0) -> str:
    return _speaks_first(parse_address(address), "daytime", timeout).decode().strip()


def rfc868_time(address: str | Address, *, timeout: float = 10.0) -> tuple[int, int]:
    """The raw RFC 868 value and the Unix time it stands for."""
    data = _speaks_first(parse_address(address), "time", timeout)
    if len(data) != 4:
        raise ProtocolError(f"expected 4 bytes from the time service, got {len(data)}")
    return int.from_bytes(data, "big"), rfc868_decode(data)


def _converse(
    address: str | Address, service: str, messages: Iterable[str], *, bare: bool,
    lines_per_reply: int, timeout: float,
) -> Iterator[str]:
    client = _connect(parse_address(address), service, timeout)
    try:
        for message in messages:
            if bare:
                client.send(message.encode("utf-8", "surrogateescape"))
                reply = client.read_bare()
                if not reply:
                    raise ConnectionClosed("the server closed the connection before answering")
                yield reply.decode("utf-8", "surrogateescape")
                continue
            client.send_line(message)
            first = client.read_line()
            rest = [] if first.startswith(("error:", "Error:")) else [
                client.read_line() for _ in range(lines_per_reply - 1)
            ]
            yield "\n".join([first, *rest])
    finally:
        client.close()


def square(address: str | Address, numbers: Iterable[str], *, greeting: str = "Hi there!",
           bare: bool = False, timeout: float = 10.0) -> Iterator[str]:
    """The greeting's answer, then one answer per number."""
    return _converse(address, "square", [greeting, *numbers], bare=bare, lines_per_reply=1,
                     timeout=timeout)


def upper(address: str | Address, texts: Iterable[str], *, bare: bool = False,
          timeout: float = 10.0) -> Iterator[str]:
    return _converse(address, "upper", texts, bare=bare, lines_per_reply=1, timeout=timeout)


def ni(address: str | Address, texts: Iterable[str], *, bare: bool = False,
       timeout: float = 10.0) -> Iterator[str]:
    return _converse(address, "ni", texts, bare=bare, lines_per_reply=3, timeout=timeout)
