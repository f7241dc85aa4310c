"""Message services: ``handle(request) -> reply`` over length-prefixed frames.

The conversation reads frames (:class:`~hosepipe.wire.FrameDecoder`), agrees on a codec
from the first frame (:mod:`hosepipe.wire.hello`), decodes each request, calls the
service and sends the reply in an envelope: ``{"ok": reply}``, or
``{"error": CODE, "message": TEXT}`` when the handler raised :class:`ServiceError`, the
request did not decode, or the reply did not encode. Replies leave in request order.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from hosepipe.errors import CodecError, FrameTooLarge, ProtocolError
from hosepipe.service import CLOSE, Action, Context, Conversation, Send, Service, ServiceError
from hosepipe.wire import hello
from hosepipe.wire.codecs import Codec, get_codec
from hosepipe.wire.framing import FrameDecoder, encode_frame

__all__ = ["MessageConversation", "MessageService", "error_envelope"]

log = logging.getLogger("hosepipe.service")

STRUCTURED = ("msgpack", "json", "pickle")


def error_envelope(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


class MessageService(Service):
    """Subclass and implement :meth:`handle`; ``codec`` is used when no hello is sent."""

    name: ClassVar[str] = "message"
    codec: ClassVar[str] = "msgpack"

    def handle(self, request: Any) -> Any:
        """The reply to one request; raise :class:`ServiceError` for an error reply."""
        raise NotImplementedError

    def conversation(self, context: Context) -> Conversation:
        return MessageConversation(self, context)


class MessageConversation(Conversation):
    """Frames in, one enveloped reply frame per request frame out."""

    def __init__(self, service: MessageService, context: Context) -> None:
        self.service = service
        self.context = context
        self._frames = FrameDecoder(context.limits.max_frame)
        self._codec: Codec | None = None

    def data_received(self, data: bytes) -> list[Action]:
        try:
            self._frames.feed(data)
        except FrameTooLarge as exc:
            return self._fatal("too-large", str(exc))
        except ProtocolError as exc:
            return self._fatal("bad-frame", str(exc))
        out: list[bytes] = []
        while (payload := self._frames.next_frame()) is not None:
            if self._codec is None:
                refusal = self._agree_codec(payload, out)
                if refusal is not None:
                    return [Send(b"".join(out)), *refusal] if out else refusal
                if hello.is_hello(payload):
                    continue
            out.append(self._answer(payload))
        return [Send(b"".join(out))] if out else []

    def _agree_codec(  # noqa: PLR0911 - one return per way a hello can end
        self, payload: bytes, out: list[bytes]
    ) -> list[Action] | None:
        """Pick the codec from the first frame; return actions if the peer is refused."""
        if hello.is_hello(payload):
            try:
                name = hello.parse_hello(payload)
                codec = get_codec(name)
            except (ProtocolError, CodecError) as exc:
                return [Send(encode_frame(hello.server_reply(None, str(exc)))), CLOSE]
            if name not in STRUCTURED:
                reason = f"codec {name!r} carries no structure; use msgpack or json"
                return [Send(encode_frame(hello.server_reply(None, reason))), CLOSE]
            if codec.requires_auth and not self.context.authenticated:
                reason = "pickle is accepted only after the authkey challenge"
                return [Send(encode_frame(hello.server_reply(None, reason))), CLOSE]
            self._codec = codec
            out.append(encode_frame(hello.server_reply(name)))
            return None
        if payload[:1] == bytes([hello.PICKLE_MARK]):
            self._codec = get_codec("pickle")
            if not self.context.authenticated:
                reason = "pickle is accepted only after the authkey challenge"
                return self._fatal("refused", reason)
            return None
        self._codec = get_codec(self.service.codec)
        return None

    def _answer(self, payload: bytes) -> bytes:
        codec = self._codec
        assert codec is not None
        try:
            envelope: Any = {"ok": self.service.handle(codec.decode(payload))}
        except CodecError as exc:
            envelope = error_envelope("bad-request", str(exc))
        except ServiceError as exc:
            envelope = error_envelope(exc.code, exc.message)
        except Exception:
            log.exception("%s: handler failed for %s", self.service.name, self.context.peer)
            envelope = error_envelope("internal", "the service failed; see the server log")
        try:
            return encode_frame(codec.encode(envelope))
        except CodecError as exc:
            return encode_frame(codec.encode(error_envelope("unencodable", str(exc))))

    def _fatal(self, code: str, message: str) -> list[Action]:
        codec = self._codec or get_codec(self.service.codec)
        return [Send(encode_frame(codec.encode(error_envelope(code, message)))), CLOSE]
