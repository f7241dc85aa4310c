"""Client helpers for the classic services, used by the CLI and by tests.

Each takes an address (any stream form, or udp:// where the service has one) and
returns what the service answered. They talk to hosepipe's servers and to the
tutorials' alike, without a flag:

* Messages go as lines, one at a time: send one, read its reply
  (:meth:`~hosepipe.line_client.LineClient.read_reply`: whole at its newline, or when
  a server that has not yet ended a reply with a newline goes quiet for ``pause``).
  A server whose first reply came without a newline is a bare server, as the
  tutorials' are: from then on messages go without newlines too, the way the
  tutorials' clients send them. ``mode="lines"`` never ends a reply by a pause;
  ``mode="bare"`` (``bare=True``) sends bare messages from the start.
* After its last message a client half-closes (sends end of stream), so a program
  that answers only at the end of its input (``exec:tr a-z A-Z``) answers at once;
  servers that answer message by message do not notice. daytime and time, which send
  nothing, half-close at once. (Not over TLS, which cannot half-close.)
* To an ``exec:`` program -- a pipe, whose output is usually block-buffered until its
  input ends -- all line messages are written at once, then end of input, then the
  replies are read line by line.
* With ``authkey`` the multiprocessing challenge runs first; a server that wants a key
  we lack is reported as such (:class:`~hosepipe.wire.messages.AuthRequired`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hosepipe.address import Address, ExecAddress, InetAddress, PipeAddress, parse_address
from hosepipe.client import LineClient, open_stream
from hosepipe.errors import ConnectionClosed, ProtocolError, Timeout, UsageError
from hosepipe.line_client import DEFAULT_PAUSE
from hosepipe.services import BUILTINS
from hosepipe.services.clocks import rfc868_decode
from hosepipe.transports.connect import connect_datagram
from hosepipe.transports.serial import SerialAddress

__all__ = [
    "MODES", "connect", "daytime", "echo", "is_error_reply", "ni", "rfc868_time", "square",
    "upper",
]

MODES = ("auto", "lines", "bare")


def is_error_reply(reply: str) -> bool:
    """A classic error answer (``error: ...``, ``Error: ...``, ``ERROR: ...``)."""
    return reply[:6].lower() == "error:"


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _decode(reply: bytes) -> str:
    return reply.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8", "surrogateescape")


def _is_udp(address: Address) -> bool:
    return isinstance(address, InetAddress) and address.is_datagram


def _datagram(address: Address, payload: bytes, timeout: float | None,
              authkey: bytes | None) -> bytes:
    if authkey is not None:
        raise UsageError(f"{address}: a datagram cannot run the authkey challenge")
    with connect_datagram(address, timeout=timeout) as sock:
        sock.send(payload)
        try:
            return sock.recv(65535)
        except TimeoutError as exc:
            raise Timeout(f"no answer from {address} in {timeout:g} s") from exc


def connect(address: str | Address, service: str | None = None, *,
            timeout: float | None = 10.0, authkey: bytes | None = None,
            pause: float = DEFAULT_PAUSE) -> LineClient:
    """A :class:`LineClient` connected (and authenticated, with ``authkey``) to
    ``address``; for ``pipe:`` a forked child serves the built-in ``service``."""
    address = parse_address(address)
    if isinstance(address, PipeAddress) and service is None:
        raise UsageError("pipe: needs a service to run in the child")
    child = BUILTINS[service]() if isinstance(address, PipeAddress) and service else None
    stream = open_stream(address, timeout=timeout, service=child)
    try:
        return LineClient(stream, timeout=timeout, authkey=authkey, pause=pause)
    except BaseException:
        stream.close()
        raise


def echo(address: str | Address, message: str, *, timeout: float | None = 10.0,
         authkey: bytes | None = None, pause: float = DEFAULT_PAUSE) -> str:
    """Send ``message`` (and a newline) and return what came back, as soon as it is
    whole (:meth:`~hosepipe.line_client.LineClient.read_echo`)."""
    address = parse_address(address)
    payload = _encode(message) + b"\n"
    if _is_udp(address):
        return _decode(_datagram(address, payload, timeout, authkey))
    with connect(address, "echo", timeout=timeout, authkey=authkey, pause=pause) as client:
        client.send(payload)
        client.send_eof()
        reply = client.read_echo(payload)
    if not reply:
        raise ConnectionClosed("the server closed the connection without answering")
    return _decode(reply)


def _speaks_first(address: Address, service: str, timeout: float | None,
                  authkey: bytes | None) -> bytes:
    if _is_udp(address):
        return _datagram(address, b"", timeout, authkey)
    with connect(address, service, timeout=timeout, authkey=authkey) as client:
        client.send_eof()
        if isinstance(address, SerialAddress):  # a line never ends: one reply is whole
            return _one_reply(client, service)  # at its newline (daytime), 4 bytes (time)
        return client.read_to_end(limit=4096)


def _one_reply(client: LineClient, service: str) -> bytes:
    if service == "daytime":
        return client.read_reply(1, strict=True)
    data = b""
    while len(data) < 4 and (more := client.receive_some()):
        data += more
    return data[:4]


def daytime(address: str | Address, *, timeout: float | None = 10.0,
            authkey: bytes | None = None) -> str:
    return _speaks_first(parse_address(address), "daytime", timeout, authkey).decode().strip()


def rfc868_time(address: str | Address, *, timeout: float | None = 10.0,
                authkey: bytes | None = None) -> tuple[int, int]:
    """The raw RFC 868 value and the Unix time it stands for."""
    data = _speaks_first(parse_address(address), "time", timeout, authkey)
    if len(data) != 4:
        raise ProtocolError(f"expected 4 bytes from the time service, got {len(data)}")
    return int.from_bytes(data, "big"), rfc868_decode(data)


def _lockstep(client: LineClient, messages: list[str], mode: str, lines: int) -> Iterator[str]:
    bare, strict = mode == "bare", mode == "lines"
    for index, message in enumerate(messages):
        client.send(_encode(message) + (b"" if bare else b"\n"))
        if index == len(messages) - 1:
            client.send_eof()
        reply = client.read_reply(lines, strict=strict)
        if not reply:
            raise ConnectionClosed("the server closed the connection before answering")
        if not (bare or strict):  # the first reply tells a line server from a bare one
            strict = reply.endswith(b"\n")
            bare = not strict
        yield _decode(reply)


def _pipelined(client: LineClient, messages: list[str], lines: int) -> Iterator[str]:
    client.send(b"".join(_encode(message) + b"\n" for message in messages))
    client.send_eof()
    for _ in messages:
        reply = client.read_reply(lines, strict=True)
        if not reply:
            raise ConnectionClosed("the program ended before answering")
        yield _decode(reply)


def _converse(
    address: str | Address, service: str, messages: Iterable[str], *, mode: str,
    lines_per_reply: int, timeout: float | None, authkey: bytes | None, pause: float,
) -> Iterator[str]:
    if mode not in MODES:
        raise UsageError(f"mode {mode!r}: choose from {', '.join(MODES)}")
    address = parse_address(address)
    messages = list(messages)
    with connect(address, service, timeout=timeout, authkey=authkey, pause=pause) as client:
        if isinstance(address, ExecAddress) and mode != "bare":
            yield from _pipelined(client, messages, lines_per_reply)
        else:
            yield from _lockstep(client, messages, mode, lines_per_reply)


def square(address: str | Address, numbers: Iterable[str], *, greeting: str = "Hi there!",
           bare: bool = False, mode: str = "auto", timeout: float | None = 10.0,
           authkey: bytes | None = None, pause: float = DEFAULT_PAUSE) -> Iterator[str]:
    """The greeting's answer, then one answer per number."""
    return _converse(address, "square", [greeting, *numbers], mode="bare" if bare else mode,
                     lines_per_reply=1, timeout=timeout, authkey=authkey, pause=pause)


def upper(address: str | Address, texts: Iterable[str], *, bare: bool = False,
          mode: str = "auto", timeout: float | None = 10.0, authkey: bytes | None = None,
          pause: float = DEFAULT_PAUSE) -> Iterator[str]:
    return _converse(address, "upper", texts, mode="bare" if bare else mode,
                     lines_per_reply=1, timeout=timeout, authkey=authkey, pause=pause)


def ni(address: str | Address, texts: Iterable[str], *, bare: bool = False,
       mode: str = "auto", timeout: float | None = 10.0, authkey: bytes | None = None,
       pause: float = DEFAULT_PAUSE) -> Iterator[str]:
    return _converse(address, "ni", texts, mode="bare" if bare else mode,
                     lines_per_reply=3, timeout=timeout, authkey=authkey, pause=pause)
