"""The framed request/reply protocol, both ends, without I/O.

A connection, in order:

1. the authkey challenge of :mod:`multiprocessing.connection`, when the binding has a
   key (:mod:`hosepipe.wire.auth`);
2. the hello that agrees on a codec (:mod:`hosepipe.wire.hello`) -- or none: a first
   frame that is not a hello is a request in the server's default codec, and one that
   starts with a pickle's mark selects pickle (for a plain
   ``multiprocessing.connection.Client``; only after the challenge);
3. requests, each answered by one reply frame in an envelope:
   ``{"ok": value}`` or ``{"error": CODE, "message": TEXT}``;
4. raw regions: bytes that follow a reply frame (a file after a ``get`` reply, an
   upload after its ``put`` request) belong to that reply and are never parsed as frames.

:class:`ServerProtocol` is the server's side (the message conversation,
:mod:`hosepipe.conversations.messages`, drives it); :class:`ClientProtocol` the
client's (:class:`~hosepipe.client.Client`, :class:`~hosepipe.async_client.AsyncClient`
and the authenticating :class:`~hosepipe.line_client.LineClient` only move bytes).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from hosepipe.errors import (
    CodecError,
    ConnectionClosed,
    HosepipeError,
    ProtocolError,
    RemoteError,
    ServiceError,
    Timeout,
    TransportError,
)
from hosepipe.wire import auth, hello
from hosepipe.wire.auth import CHALLENGE, AuthFailed, Handshake, Role
from hosepipe.wire.codecs import Codec, get_codec
from hosepipe.wire.framing import MAX_FRAME, FrameDecoder, encode_frame

__all__ = [
    "AUTH_REQUIRED", "PICKLE_REFUSED", "STRUCTURED", "AuthRequired", "ClientProtocol",
    "NotFramed", "ServerProtocol", "error_envelope", "run_handshake",
    "run_handshake_async", "starts_with_challenge", "unwrap",
]

STRUCTURED = ("msgpack", "json", "pickle")
PICKLE_REFUSED = "pickle is accepted only after the authkey challenge"
AUTH_REQUIRED = "this server requires an authkey (--authkey-file or HOSEPIPE_AUTHKEY)"
_CHALLENGE_FRAME = len(CHALLENGE) + 4  # header + marker


def error_envelope(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def unwrap(envelope: Any) -> Any:
    """The value of an ``ok`` envelope; :class:`RemoteError` for an ``error`` one."""
    if isinstance(envelope, dict):
        if "ok" in envelope:
            return envelope["ok"]
        if "error" in envelope:
            raise RemoteError(str(envelope["error"]), str(envelope.get("message", "")))
    raise RemoteError("bad-reply", f"not a reply envelope: {envelope!r:.80}")


# -- the server's side ------------------------------------------------------------------

class ServerProtocol:
    """The codec a connection agreed on, and its reply frames."""

    def __init__(self, *, default_codec: str, authenticated: bool) -> None:
        self.default_codec = default_codec
        self.authenticated = authenticated
        self.codec: Codec | None = None

    def first_frame(self, payload: bytes) -> tuple[bytes, bool]:
        """Agree on the codec from the first frame: (the frame to send back, and whether
        to go on). A hello is answered and consumed; any other frame is the first
        request (the caller answers it) in the default codec or pickle."""
        if hello.is_hello(payload):
            try:
                name = hello.parse_hello(payload)
                codec = get_codec(name)
            except (ProtocolError, CodecError) as exc:
                return encode_frame(hello.server_reply(None, str(exc))), False
            refusal = self._refusal(name, codec)
            if refusal is not None:
                return encode_frame(hello.server_reply(None, refusal)), False
            self.codec = codec
            return encode_frame(hello.server_reply(name)), True
        if payload[:1] == bytes([hello.PICKLE_MARK]):
            self.codec = get_codec("pickle")
            if not self.authenticated:
                return self.error_frame(error_envelope("refused", PICKLE_REFUSED)), False
            return b"", True
        self.codec = get_codec(self.default_codec)
        return b"", True

    def _refusal(self, name: str, codec: Codec) -> str | None:
        if name not in STRUCTURED:
            return f"codec {name!r} carries no structure; use msgpack or json"
        if codec.requires_auth and not self.authenticated:
            return PICKLE_REFUSED
        return None

    @staticmethod
    def is_hello(payload: bytes) -> bool:
        return hello.is_hello(payload)

    def ok_frame(self, value: Any) -> tuple[bytes, bool]:
        """``{"ok": value}`` framed, True; or, if the codec cannot carry the value, an
        ``unencodable`` error frame, False."""
        codec = self.codec
        assert codec is not None
        envelope = {"ok": value}
        try:
            return encode_frame(codec.dumps(envelope)), True
        except codec.ENCODE_ERRORS as exc:
            error = codec.encode_error(envelope, exc)
            return self.error_frame(error_envelope("unencodable", str(error))), False

    def failure_frame(self, exc: Exception) -> bytes | None:
        """The error frame for a known failure (a request that did not decode, a
        :class:`ServiceError`); None for anything else (the caller logs it)."""
        if isinstance(exc, CodecError):
            return self.error_frame(error_envelope("bad-request", str(exc)))
        if isinstance(exc, ServiceError):
            return self.error_frame(error_envelope(exc.code, exc.message))
        return None

    def error_frame(self, envelope: dict[str, str]) -> bytes:
        """An error envelope, framed (a message that cannot be encoded is replaced)."""
        codec = self.codec or get_codec(self.default_codec)
        try:
            return encode_frame(codec.encode(envelope))
        except CodecError:  # the message itself would not encode (a lone surrogate)
            plain = error_envelope(envelope["error"], "the error message could not be encoded")
            return encode_frame(codec.encode(plain))


# -- the client's side ----------------------------------------------------------------

class AuthRequired(AuthFailed):
    """The server sent the authkey challenge and we have no key."""

    def __init__(self) -> None:
        super().__init__(AUTH_REQUIRED)


class NotFramed(ProtocolError):
    """The peer did not answer the hello as a hosepipe message server would: no answer
    in time, the connection closed, or bytes that are not a hello reply."""


def starts_with_challenge(data: bytes) -> bool | None:
    """Whether raw bytes begin with an authkey challenge frame; ``None`` while too few
    have arrived to tell (they are the start of one)."""
    if len(data) >= _CHALLENGE_FRAME:
        return data[4:_CHALLENGE_FRAME] == CHALLENGE
    could_be = b"\0\0\0".startswith(data[:3]) and CHALLENGE.startswith(data[4:])
    return None if could_be else False


class ClientProtocol:
    """One framed client connection's protocol state: the challenge (with a key), the
    hello (unless ``raw``), then requests and replies; bytes after a reply frame are
    kept as :attr:`leftover`."""

    def __init__(self, *, codec: str = "msgpack", max_frame: int = MAX_FRAME,
                 authkey: bytes | None = None, raw: bool = False,
                 allow_md5: bool = True, tell_classic: bool = False) -> None:
        """``tell_classic``: a hello that goes unanswered -- no answer in time, the
        connection closed, bytes that are not a frame -- raises :class:`NotFramed` (the
        cue for a classic fallback) instead of the timeout or transport error itself."""
        self.codec_name = codec
        self.tell_classic = tell_classic
        self.codec: Codec = get_codec(codec)
        self.raw = raw
        self.max_frame = max_frame
        self.leftover = b""  # bytes after the last whole frame: a raw region, unparsed
        self._auth = (Handshake(authkey, Role.CLIENT, os.urandom(40), allow_md5=allow_md5)
                      if authkey else None)
        self.stage = "auth" if authkey else "ready" if raw else "hello"
        self.frames = FrameDecoder(auth.MAX_MESSAGE if authkey else max_frame)

    @property
    def ready(self) -> bool:
        return self.stage == "ready"

    def opening(self) -> bytes:
        """What to send as soon as connected (the hello; nothing while a challenge is
        awaited)."""
        return encode_frame(hello.client_hello(self.codec_name)) if self.stage == "hello" else b""

    def step(self, payload: bytes) -> tuple[bytes, HosepipeError | None]:
        """Take a frame received before :attr:`ready`: the bytes to send, then the error
        to raise once they are sent (``None``: go on)."""
        if self.stage == "auth":
            return self._auth_step(payload)
        if payload.startswith(CHALLENGE):
            return b"", AuthRequired()
        if not hello.is_hello(payload):
            return b"", NotFramed(f"the server did not answer the hosepipe hello "
                                  f"(it sent {payload[:40]!r})")
        try:
            hello.parse_reply(payload)
        except ProtocolError as exc:
            return b"", exc
        self.stage = "ready"
        return b"", None

    def _auth_step(self, payload: bytes) -> tuple[bytes, HosepipeError | None]:
        assert self._auth is not None
        try:
            replies = self._auth.receive(payload)
        except AuthFailed as exc:
            return (encode_frame(exc.reply) if exc.reply else b""), exc
        out = b"".join(encode_frame(message) for message in replies)
        if self._auth.done:
            self.frames = FrameDecoder(self.max_frame)
            self.stage = "ready" if self.raw else "hello"
            out += self.opening()
        return out, None

    def failure(self, exc: HosepipeError, timeout: float | None) -> HosepipeError:
        """What a transport or framing error during the handshake means to the user."""
        if self.stage == "auth":
            if isinstance(exc, Timeout):
                return AuthFailed(f"no authkey challenge from the server in {timeout:g} s: "
                                  "does it require a key? (unset HOSEPIPE_AUTHKEY, or drop "
                                  "--authkey-file)")
            if isinstance(exc, ConnectionClosed):
                return AuthFailed("the server closed the connection during the authkey "
                                  "challenge (a wrong key?)")
            return exc
        if (self.stage == "hello" and self.tell_classic
                and isinstance(exc, TransportError | ProtocolError)):
            if isinstance(exc, Timeout):
                return NotFramed(f"no answer to the hosepipe hello in {timeout:g} s")
            return NotFramed(f"the server did not answer the hosepipe hello ({exc})")
        return exc

    def pull(self, data: bytes) -> bytes | None:
        """Feed received bytes; the next whole frame's payload, or ``None`` until more
        arrive. Bytes after that frame are kept in :attr:`leftover`."""
        rest = self.frames.feed_one(data)
        payload = self.frames.next_frame()
        if payload is not None:
            self.leftover = rest
        return payload

    def take_leftover(self) -> bytes:
        data, self.leftover = self.leftover, b""
        return data

    def encode(self, value: Any) -> bytes:
        """A request, framed."""
        return encode_frame(self.codec.encode(value))

    def decode(self, payload: bytes) -> Any:
        """A reply's value (the envelope opened unless raw)."""
        reply = self.codec.decode(payload)
        return reply if self.raw else unwrap(reply)


def run_handshake(proto: ClientProtocol, receive: Callable[[], bytes],
                  send: Callable[[bytes], None], timeout: float | None) -> None:
    """Drive ``proto`` until ready; ``receive()`` returns the next frame's payload."""
    if opening := proto.opening():
        send(opening)
    while not proto.ready:
        try:
            payload = receive()
        except (TransportError, ProtocolError) as exc:
            raise proto.failure(exc, timeout) from exc
        out, error = proto.step(payload)
        if out:
            send(out)
        if error is not None:
            raise error


async def run_handshake_async(proto: ClientProtocol, receive: Callable[[], Awaitable[bytes]],
                              send: Callable[[bytes], Awaitable[None]],
                              timeout: float | None) -> None:
    """:func:`run_handshake` for asyncio."""
    if opening := proto.opening():
        await send(opening)
    while not proto.ready:
        try:
            payload = await receive()
        except (TransportError, ProtocolError) as exc:
            raise proto.failure(exc, timeout) from exc
        out, error = proto.step(payload)
        if out:
            await send(out)
        if error is not None:
            raise error
