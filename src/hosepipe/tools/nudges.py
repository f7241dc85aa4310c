"""The harmless requests ``hosepipe probe`` sends to a port that says nothing first.

Each nudge is a coroutine ``nudge(host, port, deadline, conn)`` that sends one request
and decodes the answer into a :class:`~hosepipe.tools.decode.Finding`, or returns
``None`` when nothing came back by ``deadline`` (a loop time). ``conn`` is the
connection the probe already holds (the one it waited on for a banner), or ``None``:
then the nudge opens its own.

* ``http``: ``HEAD / HTTP/1.0`` -- the status line and ``Server``.
* ``echo``: a test line; the same bytes back mean an echo service (RFC 862).
* ``hello``: hosepipe's framed hello (``HOSEPIPE/1 codec=msgpack``); a hosepipe message
  service answers ``HOSEPIPE/1 ok``, and then a ``nil`` request, which no service
  accepts and none acts on, gets an error whose text says which service it is.
* ``tls``: a TLS handshake, first verifying against the system's CAs, and if that
  fails for the certificate alone, again without verifying, to read it anyway: protocol
  version, cipher, subject, issuer and expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone

import msgpack
from cryptography import x509

from hosepipe.tools.decode import Finding, decode_banner, decode_frame
from hosepipe.wire.framing import encode_frame
from hosepipe.wire.hello import client_hello

__all__ = ["NUDGES", "Conn", "close", "read_banner"]

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Nudge = Callable[[str, int, float, "Conn | None"], Awaitable["Finding | None"]]

QUIET = 0.2  # after the first bytes, this long without more ends a banner
LIMIT = 16 * 1024  # the most a banner or an answer is read to
ECHO_TEST = b"hosepipe probe\r\n"
NIL = b"\xc0"  # msgpack's nil


def _left(deadline: float) -> float:
    return max(0.0, deadline - asyncio.get_running_loop().time())


async def read_banner(reader: asyncio.StreamReader, wait: float, deadline: float,
                      want: Callable[[bytes], bool] = lambda data: False) -> tuple[bytes, bool]:
    """Read for ``wait`` seconds, then until the peer is quiet, the end of the stream,
    ``want(data)``, the size limit or ``deadline``; the bytes and whether it ended."""
    data = b""
    timeout = min(wait, _left(deadline))
    while len(data) < LIMIT and not want(data):
        try:
            chunk = await asyncio.wait_for(reader.read(LIMIT - len(data)), timeout)
        except (asyncio.TimeoutError, ConnectionError):
            return data, False
        if not chunk:
            return data, True
        data += chunk
        timeout = min(QUIET, _left(deadline))
    return data, False


async def close(writer: asyncio.StreamWriter) -> None:
    """Drop a connection at once (a probe owes no goodbye) and wait until it is gone."""
    writer.transport.abort()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


@contextlib.asynccontextmanager
async def _connected(host: str, port: int, deadline: float,
                     conn: Conn | None) -> AsyncIterator[Conn | None]:
    """``conn``, or a new connection (None if that fails); closed at the end either way."""
    if conn is None:
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            conn = await asyncio.wait_for(asyncio.open_connection(host, port), _left(deadline))
    try:
        yield conn
    finally:
        if conn is not None:
            await close(conn[1])


async def _exchange(conn: Conn, request: bytes, deadline: float,
                    want: Callable[[bytes], bool]) -> tuple[bytes, bool]:
    """Send ``request`` and read the answer (see :func:`read_banner`); b"" if none."""
    reader, writer = conn
    try:
        writer.write(request)
        await asyncio.wait_for(writer.drain(), _left(deadline))
        return await read_banner(reader, _left(deadline), deadline, want)
    except (OSError, asyncio.TimeoutError):
        return b"", False


async def http(host: str, port: int, deadline: float, conn: Conn | None) -> Finding | None:
    request = f"HEAD / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: hosepipe-probe\r\n\r\n"
    async with _connected(host, port, deadline, conn) as opened:
        if opened is None:
            return None
        data, ended = await _exchange(opened, request.encode(), deadline,
                                      lambda data: b"\r\n\r\n" in data)
    return decode_banner(data, port, ended=ended) if data else None


async def echo(host: str, port: int, deadline: float, conn: Conn | None) -> Finding | None:
    async with _connected(host, port, deadline, conn) as opened:
        if opened is None:
            return None
        data, ended = await _exchange(opened, ECHO_TEST, deadline,
                                      lambda data: len(data) >= len(ECHO_TEST))
    if not data:
        return None
    return _echoed(data, ECHO_TEST) or decode_banner(data, port, ended=ended)


def _echoed(data: bytes, sent: bytes) -> Finding | None:
    if data != sent:
        return None
    return Finding("echo", "echoed what was sent (RFC 862)", {"sent": sent.decode("latin-1")})


def _whole_frame(data: bytes) -> bool:
    return len(data) >= 4 and len(data) >= 4 + struct.unpack("!i", data[:4])[0]


async def hello(host: str, port: int, deadline: float, conn: Conn | None) -> Finding | None:
    sent = encode_frame(client_hello("msgpack"))
    async with _connected(host, port, deadline, conn) as opened:
        if opened is None:
            return None
        data, ended = await _exchange(opened, sent, deadline, _whole_frame)
        found = _echoed(data, sent) or decode_frame(data)
        if found is not None and found.fields.get("codec") == "msgpack":
            reply, _ = await _exchange(opened, encode_frame(NIL), deadline, _whole_frame)
            if _whole_frame(reply):
                _describe_nil_reply(found, reply[4:])
    if not data:
        return None
    return found or decode_banner(data, port, ended=ended)


def _describe_nil_reply(found: Finding, payload: bytes) -> None:
    with contextlib.suppress(ValueError, TypeError, msgpack.UnpackException):
        envelope = msgpack.unpackb(payload)
        said = f"{envelope.get('error')}: {envelope.get('message')}" if "error" in envelope \
            else f"ok: {envelope.get('ok')!r:.40}"
        found.fields["nil_reply"] = said
        found.summary += f"; nil -> {said}"
        first = str(envelope.get("message", "")).split(" ", 1)[0]
        if first in ("upper", "ni", "square", "book", "files", "echo"):
            found.fields["likely"] = first


async def tls(host: str, port: int, deadline: float, conn: Conn | None) -> Finding | None:
    verifying = ssl.create_default_context()
    try:
        return await _handshake(host, port, deadline, verifying, verified=True)
    except ssl.SSLCertVerificationError as exc:
        relaxed = ssl.create_default_context()
        relaxed.check_hostname = False
        relaxed.verify_mode = ssl.CERT_NONE
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
            found = await _handshake(host, port, deadline, relaxed, verified=False)
            found.fields["verify_error"] = exc.verify_message
            found.summary += f"; untrusted: {exc.verify_message}"
            return found
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        pass
    return None


async def _handshake(host: str, port: int, deadline: float, context: ssl.SSLContext, *,
                     verified: bool) -> Finding:
    opening = asyncio.open_connection(host, port, ssl=context, server_hostname=host,
                                      ssl_handshake_timeout=max(_left(deadline), 0.001))
    _, writer = await asyncio.wait_for(opening, _left(deadline))
    try:
        secure: ssl.SSLObject = writer.get_extra_info("ssl_object")
        fields = {"version": secure.version(), "cipher": (secure.cipher() or ("",))[0],
                  "verified": verified, **_certificate(secure.getpeercert(binary_form=True))}
    finally:
        await close(writer)
    expiry = fields.get("not_after", "?")
    summary = (f"{fields['version']}, {fields.get('subject', '?')}, expires "
               f"{str(expiry)[:10]} ({fields.get('days_left', '?')} days)")
    return Finding("tls", summary, fields)


def _certificate(der: bytes | None) -> dict[str, object]:
    if not der:
        return {}
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": not_after.isoformat(),
            "days_left": (not_after - datetime.now(timezone.utc)).days,
            "self_signed": cert.subject == cert.issuer}


NUDGES: dict[str, Nudge] = {"tls": tls, "hello": hello, "echo": echo, "http": http}
