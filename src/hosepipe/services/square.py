"""square: a greeting handshake, then the square of every integer sent.

Classic form: the client greets first (any text) and is answered
``Hello. Nice to see you.``; after that each message that is a decimal integer
(white space around it and a sign allowed) is answered with its square, and anything
else with one ``error: ...`` line, the connection staying open. Integers longer than
``max_digits`` (default 4,300, Python's own limit) are refused the same way; the
arithmetic goes through :mod:`decimal` so that squares of up to twice that many digits
still print.

Framed form (first byte 0x00 on the same port): a request is an integer, or a string of
one, and the reply is its square; no greeting.
"""

from __future__ import annotations

import decimal
import re
from typing import Any

from hosepipe.conversations.classic import ClassicConversation
from hosepipe.conversations.messages import MessageConversation, MessageService
from hosepipe.conversations.switch import FirstByteSwitch
from hosepipe.service import Context, Conversation, Service, ServiceError

__all__ = ["GREETING", "Square", "square_of"]

GREETING = "Hello. Nice to see you."
_INTEGER = re.compile(r"[+-]?[0-9]+")
_WIDE = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX)


def square_of(text: str, max_digits: int) -> str:
    """The square of the integer ``text`` as decimal text; ValueError says what is wrong."""
    text = text.strip()
    if not text:
        raise ValueError("empty message; send an integer such as 12")
    if not _INTEGER.fullmatch(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(f"not an integer: {shown!r}")
    digits = len(text.lstrip("+-"))
    if digits > max_digits:
        raise ValueError(f"integer has {digits} digits; the limit is {max_digits}")
    value = _WIDE.create_decimal(text)
    return format(_WIDE.multiply(value, value), "f")


class _SquareLines(ClassicConversation):
    def __init__(self, context: Context, max_digits: int) -> None:
        super().__init__(context)
        self.max_digits = max_digits
        self.greeted = False

    def answer(self, text: str) -> str:
        if not self.greeted:
            self.greeted = True
            return GREETING
        try:
            return square_of(text, self.max_digits)
        except ValueError as exc:
            return f"error: {exc}"


class _SquareMessages(MessageService):
    name = "square"

    def __init__(self, max_digits: int) -> None:
        self.max_digits = max_digits

    def handle(self, request: Any) -> Any:
        if isinstance(request, bool) or not isinstance(request, int | str):
            raise ServiceError("bad-request", "send an integer, or a string of one")
        try:
            return int(square_of(str(request), self.max_digits))
        except ValueError as exc:
            raise ServiceError("bad-request", str(exc)) from None


class Square(Service):
    """Square: greeting handshake, then the square of each integer."""

    name = "square"

    def __init__(self, *, max_digits: int = 4300) -> None:
        """Options:

        max_digits: the longest integer squared, in digits; a longer one is answered
            with an ``error:`` line (Python's own int/str limit is 4300).
        """
        if max_digits <= 0:
            raise ValueError("max_digits must be positive")
        self.max_digits = max_digits
        self._messages = _SquareMessages(max_digits)

    def conversation(self, context: Context) -> Conversation:
        return FirstByteSwitch(
            context,
            classic=lambda ctx: _SquareLines(ctx, self.max_digits),
            framed=lambda ctx: MessageConversation(self._messages, ctx),
        )
