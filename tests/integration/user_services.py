"""User-written services, loaded by the server as ``module:Class`` in the tests."""

from __future__ import annotations

from typing import Any

from hosepipe import CLOSE, Action, Context, Conversation, MessageService, Send, ServiceError


class Adder(MessageService):
    """Adds a list of numbers."""

    name = "adder"

    def handle(self, request: Any) -> Any:
        if not isinstance(request, list):
            raise ServiceError("bad-request", "send a list of numbers")
        return sum(request)


class Countdown(Conversation):
    """Says how many bytes it got, at the end of the stream."""

    def __init__(self, context: Context) -> None:
        self.count = 0
        self.peer = context.peer

    def data_received(self, data: bytes) -> list[Action]:
        self.count += len(data)
        return []

    def eof_received(self) -> list[Action]:
        return [Send(f"{self.count} bytes\n".encode()), CLOSE]
