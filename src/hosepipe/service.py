"""The service contracts: conversations that never touch a socket.

A **Conversation** is one connection's worth of protocol. The server model calls it
when the connection opens, when bytes arrive, when the peer has been quiet for the pause
interval, and at end of stream; each call returns a list of **actions** for the model to
carry out: :class:`Send` bytes, :class:`SendFile` (a file region, sent zero-copy where
the OS can), or :data:`CLOSE`. The same conversation therefore runs over TCP, a Unix
socket, a pipe or a forked child's stdin/stdout, under any server model.

A **Service** makes conversations (one per connection) and may also answer datagrams.
:class:`MessageService` is the easy way to write a request/reply service: implement
``handle(request) -> reply`` and it is served over length-prefixed frames with a codec
agreed when the connection opens (:mod:`hosepipe.wire.hello`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import ClassVar

from hosepipe.limits import Limits

__all__ = [
    "CLOSE",
    "Action",
    "Close",
    "Context",
    "Conversation",
    "Send",
    "SendFile",
    "Service",
    "ServiceError",
    "release",
]

log = logging.getLogger("hosepipe.service")


@dataclass(frozen=True, slots=True)
class Send:
    """Send these bytes, all of them, in order."""

    data: bytes


@dataclass(frozen=True, slots=True)
class SendFile:
    """Send ``count`` bytes (None: to the end) of the open file ``fd`` from ``offset``.

    The action owns the descriptor: the server model closes it once the region is sent
    or the connection ends, so a service opens (and checks) a file exactly once.
    """

    fd: int
    offset: int = 0
    count: int | None = None

    def size(self) -> int:
        """How many bytes this action sends."""
        end = os.fstat(self.fd).st_size
        return max(0, end - self.offset) if self.count is None else self.count

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


@dataclass(frozen=True, slots=True)
class Close:
    """Finish sending what is queued, then close the connection."""


CLOSE = Close()
Action = Send | SendFile | Close


def release(actions: list[Action]) -> None:
    """Close the descriptors of SendFile actions that will never be carried out."""
    for action in actions:
        if isinstance(action, SendFile):
            action.close()


@dataclass(frozen=True)
class Context:
    """What a conversation may know about its connection."""

    peer: str = "-"
    local: str = "-"
    limits: Limits = field(default_factory=Limits)
    authenticated: bool = False


class ServiceError(Exception):
    """Raised by a handler to answer with a structured error instead of a reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Conversation:
    """One connection's protocol. Override the hooks you need; each returns actions."""

    __slots__ = ()  # so that subclasses may use __slots__ to save memory per connection

    def opened(self) -> list[Action]:
        """The connection is open; a server that speaks first does so here."""
        return []

    def data_received(self, data: bytes) -> list[Action]:
        """Bytes arrived. They may be any part of any number of messages."""
        raise NotImplementedError

    @property
    def wants_pause(self) -> bool:
        """True to be told (:meth:`paused`) when the peer has been quiet a while."""
        return False

    def paused(self) -> list[Action]:
        """The peer sent nothing for the pause interval while :attr:`wants_pause`."""
        return []

    def eof_received(self) -> list[Action]:
        """The peer will send no more. By default, close our side too."""
        return [CLOSE]

    @property
    def partial(self) -> bool:
        """True while part of a message is held (the server's message deadline runs)."""
        return False

    @property
    def idle_limit(self) -> float | None:
        """Seconds the peer may stay silent now, if not the binding's idle timeout
        (an authentication handshake has its own, shorter deadline)."""
        return None

    def closed(self) -> None:
        """The connection is gone (by either side); release anything held."""


class Service:
    """Makes a conversation per connection and, where it can, answers datagrams.

    Subclasses set ``name`` and override :meth:`conversation` (stream service),
    :meth:`datagram` (datagram service), or both.
    """

    name: ClassVar[str] = "service"
    streams: ClassVar[bool] = True
    datagrams: ClassVar[bool] = False
    amplifies: ClassVar[bool] = False
    """True only where the wire contract requires answering a datagram with more bytes
    than it carried (RFC 867/868: an empty datagram gets the time). Otherwise a larger
    reply is never sent, so the service cannot amplify a spoofed flood."""

    def conversation(self, context: Context) -> Conversation:
        raise NotImplementedError(f"{self.name} does not serve streams")

    def datagram(self, data: bytes, peer: str) -> bytes | None:
        """The reply to one datagram, or ``None`` for no reply."""
        raise NotImplementedError(f"{self.name} does not serve datagrams")

    def close(self) -> None:
        """The server is done with this service: release what it holds (a database)."""
