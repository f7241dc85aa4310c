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
from dataclasses import dataclass
from typing import ClassVar

from hosepipe.errors import ServiceError
from hosepipe.limits import Limits

__all__ = [
    "CLOSE",
    "PENDING",
    "RESUME",
    "WAITING",
    "Action",
    "Close",
    "Context",
    "Conversation",
    "Handoff",
    "Outlet",
    "Pending",
    "Resume",
    "Send",
    "SendFile",
    "Service",
    "ServiceError",
    "Waiting",
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


@dataclass(frozen=True, slots=True)
class Pending:
    """Not an action for the wire: the conversation holds whole messages it has not
    answered yet, because it has produced as much output as one call may (the
    ``high_water`` limit) or has just queued a file. The driver calls
    :meth:`Conversation.resume` once the output has drained, and reads no more from the
    peer meanwhile -- so pipelined requests cannot make a server buffer without bound."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """Not an action for the wire: the conversation waits for work done elsewhere (a
    worker thread). The driver reads nothing and calls nothing until the conversation
    pushes :data:`RESUME`."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Pushed (from any thread) by a conversation that returned :data:`WAITING`: the
    work is done; the driver calls :meth:`Conversation.resume` on its own thread."""


CLOSE = Close()
PENDING = Pending()
WAITING = Waiting()
RESUME = Resume()
Action = Send | SendFile | Close | Pending | Waiting | Resume


def release(actions: list[Action]) -> None:
    """Close the descriptors of SendFile actions that will never be carried out."""
    for action in actions:
        if isinstance(action, SendFile):
            action.close()


class Outlet:
    """Where a context's pushes go: the driver of the connection (see :mod:`hosepipe.driving`)."""

    __slots__ = ()

    def push(self, actions: tuple[Action, ...]) -> bool:
        return False

    @property
    def pending_output(self) -> int:
        return 0

    def delegate(self, conversation: Conversation) -> None:
        """Send the connection's events straight to ``conversation`` from now on."""


_NOWHERE = Outlet()


class Context:
    """What a conversation may know about its connection, and its way to speak first.

    :meth:`push` sends (or closes) at any time, from any thread: the actions join the
    connection's output in order, after whatever was queued before them. A service
    whose conversations push from threads other than their own callbacks, or from
    timers, sets :attr:`Service.pushes`.
    """

    __slots__ = ("_outlet", "authenticated", "limits", "local", "offload", "peer")

    def __init__(self, peer: str = "-", local: str = "-", limits: Limits | None = None, *,
                 authenticated: bool = False, offload: bool = False) -> None:
        self.peer = peer
        self.local = local
        self.limits = limits if limits is not None else Limits()
        self.authenticated = authenticated
        self.offload = offload
        """True when the conversation runs on a loop shared by many connections (select,
        iterative, async): slow work (hashing a big file) belongs on another thread
        then. False on a thread or process of its own, where doing it inline is best."""
        self._outlet: Outlet = _NOWHERE

    def attach(self, outlet: Outlet) -> None:
        """Route :meth:`push` to ``outlet`` (the connection's driver does this)."""
        self._outlet = outlet

    def push(self, *actions: Action) -> bool:
        """Send these actions now, in order; thread-safe. False if the connection is
        gone (or was never attached to one): nothing was queued."""
        return self._outlet.push(actions)

    @property
    def pending_output(self) -> int:
        """Bytes queued for this peer and not yet taken by the transport (any thread;
        a room uses it to drop members that stopped reading)."""
        return self._outlet.pending_output

    def delegate(self, conversation: Conversation) -> None:
        """For a conversation that only routes (a protocol switch, an authentication
        gate) and has chosen where to: from the next event on, the connection's events
        go straight to ``conversation``, whose own rules (``partial`` and the rest) the
        driver then reads. Call it from inside one of your callbacks, and keep routing
        that callback's events yourself; :meth:`Conversation.closed` then goes to
        ``conversation`` alone."""
        self._outlet.delegate(conversation)

    def authenticated_copy(self) -> Context:
        """The same connection, once its peer has passed the authkey challenge."""
        copy = Context(self.peer, self.local, self.limits, authenticated=True,
                       offload=self.offload)
        copy._outlet = self._outlet
        return copy


class Conversation:
    """One connection's protocol. Override the hooks you need; each returns actions.

    The four rules a driver reads after each callback (:attr:`partial`,
    :attr:`wants_pause`, :attr:`idle_limit`, :attr:`message_limit`) are read only if
    the conversation's class overrides them (a property or a class attribute, in the
    class body or a base class between it and this one): define them there, not by
    patching a class after its first connection.
    """

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

    def resume(self) -> list[Action]:
        """The output has drained after this conversation returned :data:`PENDING`:
        answer more of the messages it holds (and return ``PENDING`` again if some
        are still left)."""
        return []

    @property
    def partial(self) -> bool:
        """True while part of a message is held (the server's message deadline runs)."""
        return False

    @property
    def idle_limit(self) -> float | None:
        """Seconds the peer may stay silent now, if not the binding's idle timeout."""
        return None

    @property
    def message_limit(self) -> float | None:
        """Seconds a message may take from its first byte, if not the binding's
        ``message_timeout`` (an authkey handshake, whole, gets ``handshake_timeout``)."""
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
    pushes: ClassVar[bool] = False
    """True if conversations push (:meth:`Context.push`) from other threads or timers,
    not only from their own callbacks; blocking models then also wait for pushes."""
    shares_state: ClassVar[bool] = False
    """True if connections share state in this process (a chat room): models whose
    connections do not share one process (iterative, fork, ``--workers``) refuse it,
    unless the service has a broker (:meth:`spans_processes`)."""
    handoff: ClassVar[bool] = False
    """True if the service takes a connection over instead of conversing on it (exec
    programs): models call :meth:`take_over` and only track what it returns."""
    amplifies: ClassVar[bool] = False
    """True only where the wire contract requires answering a datagram with more bytes
    than it carried (RFC 867/868: an empty datagram gets the time). Otherwise a larger
    reply is never sent, so the service cannot amplify a spoofed flood."""

    def conversation(self, context: Context) -> Conversation:
        raise NotImplementedError(f"{self.name} does not serve streams")

    def datagram(self, data: bytes, peer: str) -> bytes | None:
        """The reply to one datagram, or ``None`` for no reply."""
        raise NotImplementedError(f"{self.name} does not serve datagrams")

    def spans_processes(self) -> bool:
        """With :attr:`shares_state`: True when a broker carries the shared state
        between processes, so that every model may serve the service."""
        return False

    def take_over(self, stream: object, peer: str) -> Handoff:
        """With :attr:`handoff`: run the connection's whole life elsewhere (a program);
        the caller closes its copy of ``stream`` afterwards."""
        raise NotImplementedError(f"{self.name} does not take connections over")

    def close(self) -> None:
        """The server is done with this service: release what it holds (a database)."""


class Handoff:
    """A connection taken over by a :attr:`Service.handoff` service (a process)."""

    def poll(self) -> int | None:
        """The exit status once it has ended, else None (never blocks)."""
        raise NotImplementedError

    def terminate(self) -> None:
        """Ask it to end (SIGTERM)."""

    def kill(self) -> None:
        """Make it end (SIGKILL)."""

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; raises TimeoutError past ``timeout``."""
        raise NotImplementedError
