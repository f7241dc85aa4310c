"""Classic conversations: text messages in, one text reply per message out.

:class:`ClassicConversation` does the framing (:class:`~hosepipe.wire.ClassicDecoder`:
lines, or bare messages ended by a pause) so a service only says what to answer:
``answer(text) -> reply``. A reply goes back with the terminator its message came
with, so line clients get lines and bare clients get bare replies. Text is UTF-8 with
``surrogateescape``, so arbitrary bytes pass through unchanged.
"""

from __future__ import annotations

from hosepipe.errors import ProtocolError
from hosepipe.service import CLOSE, PENDING, Action, Context, Conversation, Send
from hosepipe.wire.framing import ClassicDecoder

__all__ = ["ClassicConversation", "decode_text", "encode_text"]


def decode_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class ClassicConversation(Conversation):
    """Answer each classic message; subclasses implement :meth:`answer`.

    One call answers messages until its output reaches the ``high_water`` limit; the
    rest are held (:data:`PENDING`) and answered by :meth:`resume` once the output has
    drained, so a flood of pipelined lines never makes the server buffer its answers.
    """

    def __init__(self, context: Context) -> None:
        self.context = context
        self._decoder = ClassicDecoder(context.limits.max_line,
                                       keep_pausing=context.limits.keep_pausing)
        self._ended = False

    def answer(self, text: str) -> str | None:
        """The reply to one message (without terminator), or ``None`` for none."""
        raise NotImplementedError

    def data_received(self, data: bytes) -> list[Action]:
        try:
            self._decoder.feed(data)
        except ProtocolError as exc:
            return self._refuse(exc)
        return self._drain()

    @property
    def wants_pause(self) -> bool:
        return self._decoder.wants_pause

    @property
    def partial(self) -> bool:
        return self._decoder.line_client and self._decoder.pending > 0

    def paused(self) -> list[Action]:
        self._decoder.pause()
        return self._drain()

    def eof_received(self) -> list[Action]:
        self._decoder.end_of_stream()
        self._ended = True
        return self._drain()

    def resume(self) -> list[Action]:
        return self._drain()

    def _drain(self) -> list[Action]:
        out = bytearray()
        budget = self.context.limits.high_water
        try:
            while (message := self._decoder.next_message()) is not None:
                reply = self.answer(decode_text(message.body))
                if reply is not None:
                    out += encode_text(reply)
                    out += message.terminator
                if len(out) >= budget:
                    return [Send(bytes(out)), PENDING]
        except ProtocolError as exc:  # a whole line over the limit, reached in order
            return [Send(bytes(out)), *self._refuse(exc)]
        done: list[Action] = [CLOSE] if self._ended else []
        return [Send(bytes(out)), *done] if out else done

    @staticmethod
    def _refuse(exc: ProtocolError) -> list[Action]:
        return [Send(encode_text(f"error: {exc}\n")), CLOSE]
