"""Message services: ``handle(request) -> reply`` over length-prefixed frames.

The conversation reads frames (:class:`~hosepipe.wire.FrameDecoder`); the protocol's
server side (:class:`~hosepipe.wire.messages.ServerProtocol`: the codec agreed from the
first frame, the envelopes ``{"ok": reply}`` and ``{"error": CODE, "message": TEXT}``)
is shared with the clients in :mod:`hosepipe.wire.messages`. This module adds what a
service returns: a value, :class:`Streamed` (raw bytes after the reply),
:class:`Upload` (raw bytes from the peer after the reply), :class:`Offload` (slow
work, done elsewhere on a shared loop) -- and the pacing: replies leave in request
order, a budget of them per call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from hosepipe.errors import FrameTooLarge, ProtocolError
from hosepipe.offload import Outcome, run_elsewhere
from hosepipe.service import (
    CLOSE,
    PENDING,
    RESUME,
    WAITING,
    Action,
    Context,
    Conversation,
    Send,
    Service,
    ServiceError,
    release,
)
from hosepipe.wire.framing import FrameDecoder
from hosepipe.wire.hello import MAGIC as HELLO
from hosepipe.wire.messages import ServerProtocol, error_envelope

__all__ = [
    "MessageConversation", "MessageService", "Offload", "Sink", "Streamed", "Upload",
    "error_envelope",
]

log = logging.getLogger("hosepipe.service")


@dataclass
class Streamed:
    """A reply followed by raw bytes (a file region): ``{"ok": value}``, then ``actions``."""

    value: Any
    actions: list[Action]


class Sink:
    """Where the raw bytes of an :class:`Upload` go. ``finish`` returns the final reply."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> Any:
        """All bytes arrived; verify and commit. Raise ServiceError to refuse."""
        raise NotImplementedError

    def abort(self) -> None:
        """The upload will not complete (error or disconnect): discard what was written."""


@dataclass
class Offload:
    """A result that takes slow work to compute (hashing a big file): ``work()`` returns
    what :meth:`MessageService.handle` would have (a value, :class:`Streamed`,
    :class:`Upload`) or raises :class:`ServiceError`. On a loop shared by many
    connections it runs on a worker thread (:mod:`hosepipe.offload`) while the loop
    serves the others, and requests behind it wait their turn; on a thread of its own
    it simply runs."""

    work: Callable[[], Any]


@dataclass
class Upload:
    """A reply (``{"ok": value}``: go ahead), after which the next ``size`` raw bytes of
    the stream belong to ``sink``; when they have all arrived, ``sink.finish()`` gives a
    second reply."""

    value: Any
    size: int
    sink: Sink


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

    # a plain attribute, not a property: the driver reads it after every callback. Set
    # at the end of each callback that may change it; the fast path of data_received
    # (nothing held before, nothing held after) leaves it False. (A subclass keeps it an
    # attribute: it is assigned.)
    partial: bool = False

    def __init__(self, service: MessageService, context: Context) -> None:
        self.service = service
        self.context = context
        self._frames = FrameDecoder(context.limits.max_frame)
        self._wire = ServerProtocol(default_codec=service.codec,
                                    authenticated=context.authenticated)
        self._upload: Upload | None = None
        self._uploaded = 0
        self._away = False  # an Offload's work is running elsewhere
        self._outcome: Outcome | None = None  # ... and this is what it came to

    def data_received(self, data: bytes) -> list[Action]:  # noqa: PLR0911
        if self._wire.codec is not None and self._upload is None:
            payload = self._frames.only_frame(data)
            # (ServerProtocol.is_hello, inline on the hot path; see _answer_frames)
            if payload is not None and payload.startswith(HELLO):
                greeting: list[bytes] = []
                if self._first(payload, greeting) == "refused":
                    return [*(Send(g) for g in greeting), CLOSE]
                return [Send(greeting[0])]
            if payload is not None:  # one whole request, the usual case: no queueing
                reply, extra = self._answer(payload)
                if reply is None:  # offloaded: the answer comes with RESUME
                    return [WAITING]
                if not extra and self._upload is None:
                    return [Send(reply)]
                if self._upload is None:  # a file follows: the next request waits for it
                    return [Send(reply), *extra, PENDING]
                actions: list[Action] = [Send(reply)]
                self._take_upload(b"", actions)  # an empty upload is whole at once
                return actions
        actions = self._received(data)
        self._note_partial()
        return actions

    def _received(self, data: bytes) -> list[Action]:
        out: list[Action] = []
        if self._upload is not None:
            data = self._take_upload(data, out)
            if not data:
                return out
        try:
            self._frames.feed(data)
        except ProtocolError as exc:
            return out + self._bad_frame(exc)
        return out + self._answer_frames()

    def resume(self) -> list[Action]:
        """Answer more of the requests held (the output has drained, or offloaded work
        is done)."""
        actions = self._resumed()
        self._note_partial()
        return actions

    def _note_partial(self) -> None:
        # an upload's raw bytes are paced by the idle timeout, offloaded work by nothing
        self.partial = self._upload is None and not self._away and self._frames.holding

    def _resumed(self) -> list[Action]:
        if self._outcome is None:
            return self._answer_frames()
        (ok, value), self._outcome = self._outcome, None
        self._away = False
        reply, extra = self._finish(value) if ok else (self._error_reply(value), [])
        actions: list[Action] = [Send(reply)]
        if self._upload is not None:
            self._take_upload(b"", actions)
            return actions
        if extra:  # raw bytes follow this reply; the next request waits until sent
            return [*actions, *extra, PENDING]
        return [*actions, *self._answer_frames()]

    def _take_upload(self, data: bytes, out: list[Action]) -> bytes:
        """Give the upload its bytes; return what is left for the frame decoder."""
        upload = self._upload
        assert upload is not None and self._wire.codec is not None
        take = upload.size - self._uploaded
        try:
            upload.sink.write(data[:take])
        except ServiceError as exc:
            upload.sink.abort()
            self._upload = None
            out.extend(self._fatal(exc.code, exc.message))
            return b""
        self._uploaded += min(take, len(data))
        if self._uploaded == upload.size:
            self._upload = None
            out.append(Send(self._reply(upload.sink.finish)))
        return data[take:]

    def _answer_frames(self) -> list[Action]:  # noqa: PLR0911 - one return per way out
        """Answer the requests held, in order, until the output budget of one call
        (``high_water``) is spent or a file follows a reply: then PENDING, the rest
        waits for :meth:`resume`."""
        out: list[bytes] = []
        actions: list[Action] = []
        produced = 0
        budget = self.context.limits.high_water
        while True:
            try:
                payload = self._frames.next_frame()
            except ProtocolError as exc:
                return self._flushed(out, actions) + self._bad_frame(exc)
            if payload is None:
                return self._flushed(out, actions)
            # a hello later on is a new peer on a stream that has no end of its own (a
            # serial line whose far end opened it again): agree the codec anew
            if self._wire.codec is None or self._wire.is_hello(payload):
                first = self._first(payload, out)
                if first == "refused":
                    return [*self._flushed(out, actions), CLOSE]
                if first == "hello":
                    continue
            answered, extra = self._answer(payload)
            if answered is None:  # offloaded: the rest waits for the answer, in order
                return [*self._flushed(out, actions), WAITING]
            reply = answered
            out.append(reply)
            produced += len(reply)
            if self._upload is not None:  # what is held after this frame is the upload's
                actions = self._flushed(out, actions)
                out = []
                rest = self._take_upload(self._frames.take_rest(), actions)
                if self._upload is not None or not rest:
                    return actions
                self._frames.feed(rest)  # the upload is whole: frames again
                continue
            if extra:  # raw bytes follow this reply; the next request waits until sent
                return [*self._flushed(out, actions), *extra, PENDING]
            if produced >= budget:
                return [*self._flushed(out, actions), PENDING]

    def _first(self, payload: bytes, out: list[bytes]) -> str:
        """Agree on the codec: "hello" (answered), "request" (answer it), "refused"."""
        reply, go_on = self._wire.first_frame(payload)
        if reply:
            out.append(reply)
        if not go_on:
            return "refused"
        return "hello" if self._wire.is_hello(payload) else "request"

    def _bad_frame(self, exc: ProtocolError) -> list[Action]:
        code = "too-large" if isinstance(exc, FrameTooLarge) else "bad-frame"
        return self._fatal(code, str(exc))

    @staticmethod
    def _flushed(out: list[bytes], actions: list[Action]) -> list[Action]:
        return [*actions, Send(b"".join(out))] if out else actions

    def _answer(self, payload: bytes) -> tuple[bytes | None, list[Action]]:
        """The reply frame to one request, and any raw actions that follow it; or None
        when the work was offloaded (the reply comes with :meth:`resume`)."""
        codec = self._wire.codec
        assert codec is not None
        try:
            request = codec.loads(payload)
        except Exception as exc:  # every failure becomes an error reply
            return self._error_reply(codec.decode_error(exc)), []
        try:
            result = self.service.handle(request)
            if isinstance(result, Offload):
                if self.context.offload:
                    self._away = True
                    run_elsewhere(result.work, self._done)
                    return None, []
                result = result.work()  # on a thread of our own: just do it
        except Exception as exc:
            return self._error_reply(exc), []
        if isinstance(result, (Streamed, Upload)):
            return self._finish(result)
        return self._wire.ok_frame(result)[0], []  # a plain value: the usual case

    def _done(self, outcome: Outcome) -> None:
        """On a worker thread: keep the outcome; the driver calls resume() for it."""
        self._outcome = outcome
        if not self.context.push(RESUME):  # the peer has gone: nothing will take it
            ok, result = outcome
            if ok and isinstance(result, Streamed):
                release(result.actions)

    def _finish(self, result: Any) -> tuple[bytes, list[Action]]:
        """A handler's result as a reply frame and the raw actions that follow it."""
        if not isinstance(result, (Streamed, Upload)):
            return self._wire.ok_frame(result)[0], []
        extra: list[Action] = []
        if isinstance(result, Streamed):
            extra = result.actions
        else:
            self._upload, self._uploaded = result, 0
        result = result.value
        frame, ok = self._wire.ok_frame(result)
        if not ok:  # no raw bytes and no upload may follow an error
            release(extra)
            if self._upload is not None:
                self._upload.sink.abort()
                self._upload = None
            return frame, []
        return frame, extra

    def _reply(self, call: Callable[[], Any]) -> bytes:
        """Run ``call`` and frame its result as an ok envelope, or an error one."""
        try:
            result = call()
        except Exception as exc:  # every failure becomes an error reply
            return self._error_reply(exc)
        return self._wire.ok_frame(result)[0]

    def _error_reply(self, exc: Exception) -> bytes:
        """The error frame for a failed request; a handler's own failure (not a
        ServiceError) is logged, not shown."""
        frame = self._wire.failure_frame(exc)
        if frame is not None:
            return frame
        log.error("%s: handler failed for %s", self.service.name, self.context.peer,
                  exc_info=exc)
        return self._wire.error_frame(
            error_envelope("internal", "the service failed; see the server log"))

    def eof_received(self) -> list[Action]:
        return [CLOSE]

    def closed(self) -> None:
        if self._outcome is not None and self._outcome[0]:  # done after the peer left
            result = self._outcome[1]
            release(result.actions if isinstance(result, Streamed) else [])
        if self._upload is not None:  # the peer left mid-upload: nothing half-written stays
            self._upload.sink.abort()
            self._upload = None

    def _fatal(self, code: str, message: str) -> list[Action]:
        return [Send(self._wire.error_frame(error_envelope(code, message))), CLOSE]
