"""upper and ni: two small text conversations.

upper answers each message in upper case (an automated stand-in for the person at the
server side of the interactive chat). ni answers ``M`` with ``Ni!\\n`` + M + ``\\nNi!``,
and an empty message with ``Error: received empty message``. Both also answer framed
requests (a string in, a string out) on the same port.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hosepipe.conversations.classic import ClassicConversation
from hosepipe.conversations.messages import MessageConversation, MessageService
from hosepipe.conversations.switch import FirstByteSwitch
from hosepipe.service import Context, Conversation, Service, ServiceError

__all__ = ["Ni", "Upper", "ni_reply", "upper_reply"]


def upper_reply(text: str) -> str:
    return text.upper()


def ni_reply(text: str) -> str:
    if not text:
        return "Error: received empty message"
    return f"Ni!\n{text}\nNi!"


class _Lines(ClassicConversation):
    def __init__(self, context: Context, reply: Callable[[str], str]) -> None:
        super().__init__(context)
        self.reply = reply

    def answer(self, text: str) -> str:
        return self.reply(text)


class _Messages(MessageService):
    def __init__(self, name: str, reply: Callable[[str], str]) -> None:
        self.label = name
        self.reply = reply

    def handle(self, request: Any) -> Any:
        if not isinstance(request, str):
            raise ServiceError("bad-request", f"{self.label} takes a string")
        return self.reply(request)


class _TextService(Service):
    reply: Callable[[str], str]

    def __init__(self) -> None:
        self._messages = _Messages(self.name, type(self).reply)

    def conversation(self, context: Context) -> Conversation:
        reply = type(self).reply
        return FirstByteSwitch(
            context,
            classic=lambda ctx: _Lines(ctx, reply),
            framed=lambda ctx: MessageConversation(self._messages, ctx),
        )


class Upper(_TextService):
    """Upper: each message answered in upper case."""

    name = "upper"
    reply = staticmethod(upper_reply)


class Ni(_TextService):
    """Ni: each message answered by the Knights who say Ni."""

    name = "ni"
    reply = staticmethod(ni_reply)
