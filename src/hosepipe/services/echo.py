"""echo (RFC 862): every byte comes back, as soon as it arrives.

With a ``prefix`` (for example ``Echo=>``) the service answers message by message
instead, each reply being the prefix followed by the message, the way the classic
tutorial echo server does.
"""

from __future__ import annotations

from hosepipe.conversations.classic import ClassicConversation
from hosepipe.service import Action, Context, Conversation, Send, Service

__all__ = ["Echo"]


class _RawEcho(Conversation):
    __slots__ = ()

    def data_received(self, data: bytes) -> list[Action]:
        return [Send(data)]


class _PrefixEcho(ClassicConversation):
    def __init__(self, context: Context, prefix: str) -> None:
        super().__init__(context)
        self.prefix = prefix

    def answer(self, text: str) -> str:
        return self.prefix + text


class Echo(Service):
    """Echo (RFC 862): every byte received is sent back."""

    name = "echo"
    datagrams = True

    def __init__(self, *, prefix: str = "") -> None:
        """Options:

        prefix: answer message by message (lines, or bare messages ended by a pause),
            each reply being this text followed by the message, as the tutorial's
            ``Echo=>`` server does; empty: every byte back as it arrives (RFC 862).
        """
        self.prefix = prefix
        self._prefix_bytes = prefix.encode()

    def conversation(self, context: Context) -> Conversation:
        if self.prefix:
            return _PrefixEcho(context, self.prefix)
        return _RawEcho()

    def datagram(self, data: bytes, peer: str) -> bytes:
        return self._prefix_bytes + data
