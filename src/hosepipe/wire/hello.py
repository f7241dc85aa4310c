"""The hello that opens a framed connection and agrees on its codec.

The client's first frame may be ``HOSEPIPE/1 codec=NAME``; the server answers
``HOSEPIPE/1 ok codec=NAME`` or ``HOSEPIPE/1 error REASON`` (then closes).
A first frame that is not a hello is a request in the binding's default codec, except
that a payload starting with 0x80 (a pickle) selects pickle, which a binding accepts
only from a peer that passed the authkey challenge; this is what lets a plain
``multiprocessing.connection.Client`` talk to a hosepipe message service.
"""

from __future__ import annotations

from hosepipe.errors import ProtocolError

__all__ = ["MAGIC", "client_hello", "is_hello", "parse_hello", "parse_reply", "server_reply"]

MAGIC = b"HOSEPIPE/1 "
PICKLE_MARK = 0x80


def client_hello(codec: str) -> bytes:
    """The payload of the client's opening frame."""
    return MAGIC + b"codec=" + codec.encode("ascii")


def is_hello(payload: bytes) -> bool:
    return payload.startswith(MAGIC)


def parse_hello(payload: bytes) -> str:
    """The codec a hello asks for."""
    key, sep, value = payload[len(MAGIC) :].partition(b"=")
    if key != b"codec" or not sep or not value:
        raise ProtocolError(f"malformed hello {payload[:80]!r}")
    return value.decode("ascii", "replace")


def server_reply(codec: str | None, error: str | None = None) -> bytes:
    """The payload of the server's answer to a hello."""
    if error is not None:
        return MAGIC + b"error " + error.encode("utf-8", "replace")
    assert codec is not None
    return MAGIC + b"ok codec=" + codec.encode("ascii")


def parse_reply(payload: bytes) -> str:
    """The codec the server agreed to; :class:`ProtocolError` if it refused."""
    if payload.startswith(b"#CHALLENGE#"):
        raise ProtocolError("the server requires an authkey (it sent the multiprocessing "
                            "challenge); pass authkey=... or --authkey-file")
    if not payload.startswith(MAGIC):
        raise ProtocolError(f"expected a hello reply, got {payload[:80]!r}")
    rest = payload[len(MAGIC) :]
    if rest.startswith(b"ok codec="):
        return rest[len(b"ok codec=") :].decode("ascii", "replace")
    raise ProtocolError("server refused the hello: " + rest.decode("utf-8", "replace"))
