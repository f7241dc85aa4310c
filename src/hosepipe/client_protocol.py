"""The client's side of the framed protocol, without I/O: one place for all of it.

:class:`ClientProtocol` holds what a framed client says and expects, in order:

1. the authkey challenge of :mod:`multiprocessing.connection`, when the client has a
   key (the server challenges first; :class:`~hosepipe.wire.auth.Handshake` does the
   arithmetic);
2. the hello that agrees on a codec (skipped in ``raw`` mode, for a plain
   ``multiprocessing.connection.Listener``);
3. requests and reply envelopes (``{"ok": ...}`` / ``{"error": ..., "message": ...}``);
4. raw regions: bytes that follow a reply frame (a file after a ``get`` reply) are
   never parsed as frames; they are kept as :attr:`ClientProtocol.leftover`.

The blocking :class:`~hosepipe.client.Client`, the asyncio
:class:`~hosepipe.async_client.AsyncClient` and the authenticating
:class:`~hosepipe.client.LineClient` only move bytes: each calls
:meth:`ClientProtocol.step` with the frames that arrive before the protocol is
:attr:`~ClientProtocol.ready` and sends what it returns. What went wrong during the
handshake is told in the user's terms by :meth:`ClientProtocol.failure`: a server that
did not answer the hello like a hosepipe server (:class:`NotFramed`, the cue for a
classic fallback), one that wants a key we do not have (:class:`AuthRequired`), one
that never challenged a client that has a key.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from hosepipe.errors import (
    ConnectionClosed,
    HosepipeError,
    ProtocolError,
    RemoteError,
    Timeout,
    TransportError,
)
from hosepipe.wire import auth, hello
from hosepipe.wire.auth import CHALLENGE, AuthFailed, Handshake, Role
from hosepipe.wire.codecs import Codec, get_codec
from hosepipe.wire.framing import MAX_FRAME, FrameDecoder, encode_frame

__all__ = [
    "AUTH_REQUIRED", "AuthRequired", "ClientProtocol", "NotFramed", "run_handshake",
    "run_handshake_async", "starts_with_challenge", "unwrap",
]

AUTH_REQUIRED = "this server requires an authkey (--authkey-file or HOSEPIPE_AUTHKEY)"
_CHALLENGE_FRAME = len(CHALLENGE) + 4  # header + marker


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


def unwrap(envelope: Any) -> Any:
    """The value of an ``ok`` envelope; :class:`RemoteError` for an ``error`` one."""
    if isinstance(envelope, dict):
        if "ok" in envelope:
            return envelope["ok"]
        if "error" in envelope:
            raise RemoteError(str(envelope["error"]), str(envelope.get("message", "")))
    raise RemoteError("bad-reply", f"not a reply envelope: {envelope!r:.80}")


class ClientProtocol:
    """One framed client connection's protocol state (see the module docstring)."""

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
