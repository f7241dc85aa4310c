"""User-written services, loaded by the server as ``module:Class`` in the tests."""

from __future__ import annotations

import threading
from typing import Any

from hosepipe import (
    CLOSE,
    Action,
    Context,
    Conversation,
    MessageService,
    Send,
    Service,
    ServiceError,
)
from hosepipe.wire.framing import LineDecoder


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


class Broadcast(Service):
    """A chat room in miniature: each line a member sends goes to every other member.

    State shared between connections (the member list), pushes from whichever thread
    serves the sender: the shape of every room, relay and notification service.
    """

    name = "broadcast"
    shares_state = True
    pushes = True

    def __init__(self) -> None:
        self.members: set[_Member] = set()
        self.lock = threading.Lock()

    def conversation(self, context: Context) -> Conversation:
        return _Member(self, context)


class _Member(Conversation):
    def __init__(self, room: Broadcast, context: Context) -> None:
        self.room = room
        self.context = context
        self.lines = LineDecoder(1024)

    def opened(self) -> list[Action]:
        with self.room.lock:
            self.room.members.add(self)
            count = len(self.room.members)
        return [Send(f"welcome, member {count}\n".encode())]

    def data_received(self, data: bytes) -> list[Action]:
        self.lines.feed(data)
        while (line := self.lines.next_line()) is not None:
            with self.room.lock:  # one sender's lines reach everyone in the order sent
                for member in self.room.members:
                    if member is not self:
                        member.context.push(Send(line.body + b"\n"))
        return []

    def closed(self) -> None:
        with self.room.lock:
            self.room.members.discard(self)


class Dawdler(Conversation):
    """Always wants to hear about a quiet peer (the old push workaround, which spun)."""

    def __init__(self, context: Context) -> None:
        self.pauses = 0

    def data_received(self, data: bytes) -> list[Action]:
        return []

    @property
    def wants_pause(self) -> bool:
        return True

    def paused(self) -> list[Action]:
        self.pauses += 1
        return [Send(b"p")]


class Lingerer(Conversation):
    """Says "eof" at the peer's end of stream and keeps its side open, saying nothing
    more: the shape of a conversation that would answer later (a job still running)."""

    def __init__(self, context: Context) -> None:
        pass

    def data_received(self, data: bytes) -> list[Action]:
        return [Send(data)]

    def eof_received(self) -> list[Action]:
        return [Send(b"eof\n")]
