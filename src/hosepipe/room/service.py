"""room: chat rooms, as text lines (``nc``, ``telnet``) and framed messages, on one port.

Members of a room share state, so without a broker the service is served only where
connections share one process (thread, select, async); the iterative and fork models
and ``--workers`` refuse it. With ``broker=postgresql://...`` every process that serves
members (each worker, each fork child) is a server of its own joined to the others
through PostgreSQL (:mod:`hosepipe.room.broker`), and every model accepts the service.

The registry and broker of a process are made when its first member arrives, so a
forked child makes its own and never uses its parent's connections.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hosepipe.conversations.switch import FirstByteSwitch
from hosepipe.errors import ConfigError, ConnectError
from hosepipe.room.framed import FramedMember
from hosepipe.room.lines import GREETING, LineMember
from hosepipe.room.member import Settings
from hosepipe.room.protocol import BadName, check_room
from hosepipe.room.registry import Registry
from hosepipe.service import Action, Context, Conversation, Send, Service
from hosepipe.units import parse_size

if TYPE_CHECKING:
    from hosepipe.room.broker import Broker

__all__ = ["Room"]

FLUSH_TIMEOUT = 3.0  # a fork child's last events get this long to reach the broker


@dataclass
class _Process:
    """The state of one process: its registry, and its broker if it has one."""

    pid: int
    registry: Registry
    broker: Broker | None = None


class Room(Service):
    """Room: chat rooms; each member's line goes to every other member of its room."""

    name = "room"
    shares_state = True
    pushes = True

    def __init__(self, *, room: str = "lobby", max_line: int = 2048,
                 member_queue: int = "1MiB",  # type: ignore[assignment]
                 flood_rate: int = 10, flood_burst: int = 30, flood_kick: int = 0,
                 member_idle: int = 3600, broker: str = "",
                 channel: str = "hosepipe_room") -> None:
        """Options:

        room: the room a member is in after choosing a nickname.
        max_line: the longest line a member may send, in bytes (at most 3800 with a
            broker: a notification carries 8000 bytes).
        member_queue: bytes queued for one member past which it is dropped from its
            room (it is not reading), e.g. 1MiB.
        flood_rate: lines a second one member may send, on average.
        flood_burst: lines one member may send at once.
        flood_kick: refused lines in a row after which a flooder is dropped (0: never).
        member_idle: seconds a member may stay silent (listening) before it is closed
            (0: never); before it has a nickname, the binding's idle_timeout applies.
        broker: postgresql://USER@HOST/DBNAME: rooms span processes and machines through
            LISTEN/NOTIFY (then every model, --workers included, may serve them).
        channel: the PostgreSQL channel the servers of one set of rooms share.
        """
        from hosepipe.room.broker import BROKER_MAX_LINE  # noqa: PLC0415 - psycopg on demand

        try:
            check_room(room)
        except BadName as exc:
            raise ConfigError(f"room: option room={room!r}: {exc}") from None
        queue = parse_size(member_queue)
        for option, value in (("max_line", max_line), ("member_queue", queue),
                              ("flood_rate", flood_rate), ("flood_burst", flood_burst)):
            if value <= 0:
                raise ConfigError(f"room: option {option} must be positive, not {value}")
        if flood_kick < 0 or member_idle < 0:
            raise ConfigError("room: options flood_kick and member_idle are 0 (never) or "
                              "positive")
        if broker and max_line > BROKER_MAX_LINE:
            raise ConfigError(f"room: with a broker, max_line is at most {BROKER_MAX_LINE} "
                              "bytes (a PostgreSQL notification carries 8000)")
        if broker and not broker.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"room: broker {broker!r}: write postgresql://USER@HOST/DBNAME")
        self.settings = Settings(max_line=max_line, member_queue=queue, flood_rate=flood_rate,
                                 flood_burst=flood_burst, flood_kick=flood_kick, room=room,
                                 member_idle=float(member_idle) if member_idle else 1e9)
        self.broker_url = broker
        self.channel = channel
        self._lock = threading.Lock()
        self._process: _Process | None = None
        if broker:
            self._check_broker()

    def _check_broker(self) -> None:
        import psycopg  # noqa: PLC0415

        from hosepipe.room.broker import check_broker  # noqa: PLC0415

        try:
            check_broker(self.broker_url)
        except psycopg.Error as exc:
            raise ConnectError(f"room: broker: {str(exc).strip()}") from exc

    def spans_processes(self) -> bool:
        return bool(self.broker_url)

    def state(self) -> _Process:
        """This process's registry (and broker), made on first use in each process."""
        with self._lock:
            if self._process is None or self._process.pid != os.getpid():
                self._process = self._start()
            return self._process

    def _start(self) -> _Process:
        if not self.broker_url:
            return _Process(os.getpid(), Registry())
        from hosepipe.room.broker import Broker  # noqa: PLC0415

        registry = Registry()
        broker = Broker(self.broker_url, self.channel, registry)
        registry.publish = broker.publish
        broker.start()
        return _Process(os.getpid(), registry, broker)

    def conversation(self, context: Context) -> Conversation:
        return _RoomSwitch(context, self.state(), self.settings)

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.pid == os.getpid() and process.broker is not None:
            process.broker.close()


class _RoomSwitch(FirstByteSwitch):
    """Greets at once (text or frames follow); with a broker, once the last member of
    this process has gone, its last events are published before :meth:`closed`
    returns (a fork child exits right after)."""

    def __init__(self, context: Context, process: _Process, settings: Settings) -> None:
        registry = process.registry
        super().__init__(context,
                         classic=lambda ctx: LineMember(registry, settings, ctx),
                         framed=lambda ctx: FramedMember(registry, settings, ctx))
        self.process = process

    def opened(self) -> list[Action]:
        return [Send(GREETING)]

    def closed(self) -> None:
        super().closed()
        broker = self.process.broker  # not while the broker is lost: nothing would go
        if broker is not None and not broker.lost and not self.process.registry.count():
            broker.flush(FLUSH_TIMEOUT)
