"""One member's conversation: its nickname, its commands, its flood gate and its queue.

:class:`MemberConversation` does what a member's lines mean, whatever their framing:
the first is the nickname (then the member is in the default room, or the one a
``/join`` before the nickname chose), the others are
commands or text for the room (:mod:`hosepipe.room.protocol`). Everything the member
is told goes out by :meth:`Context.push`, in order, so events from other members
(pushed from their threads) and answers to this member's own commands never cross.
:mod:`hosepipe.room.lines` and :mod:`hosepipe.room.framed` say how the bytes look.

**Slow members.** Before anything is queued for a member, its queued bytes
(:attr:`Context.pending_output`) are checked against ``member_queue``: past it, the
member is dropped from the room (the room is told) and its connection closed.

**Flooding.** Each member has a token bucket: ``flood_rate`` lines a second, bursts of
``flood_burst``. A line over the rate is refused, and the member told once per run of
refused lines; after ``flood_kick`` refused lines in a row (0: never) it is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hosepipe.room.protocol import (
    HELP,
    BadName,
    Command,
    Event,
    check_nick,
    check_room,
    check_text,
    parse_command,
)
from hosepipe.room.registry import Member, Registry
from hosepipe.service import CLOSE, Action, Context, Conversation, Send

__all__ = ["FloodGate", "MemberConversation", "Settings"]


@dataclass(frozen=True)
class Settings:
    """A room service's options, as its conversations use them."""

    max_line: int = 2048
    member_queue: int = 1024 * 1024
    flood_rate: int = 10
    flood_burst: int = 30
    flood_kick: int = 0
    room: str = "lobby"
    member_idle: float | None = 3600.0


class FloodGate:
    """A token bucket: ``rate`` lines a second on average, ``burst`` at once."""

    __slots__ = ("burst", "clock", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, clock: object = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.stamp: float = clock()  # type: ignore[operator]

    def allow(self) -> bool:
        now: float = self.clock()  # type: ignore[operator]
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class MemberConversation(Member, Conversation):
    """The meaning of a member's lines; subclasses frame them (:meth:`render`)."""

    ask = ""  # added to an error about the nickname before the member has one
    entry = ""  # the room a /join before the nickname chose ("": the default room)

    def __init__(self, registry: Registry, settings: Settings, context: Context) -> None:
        self.registry = registry
        self.settings = settings
        self.context = context
        self.gate = FloodGate(settings.flood_rate, settings.flood_burst)
        self.refused = 0
        self.gone = False

    # -- what the registry calls ---------------------------------------------------------------
    rendering = ""  # the key of :meth:`render`'s output in a shared cache

    def render(self, event: Event) -> bytes:
        raise NotImplementedError

    def offer(self, events: list[Event], rendered: dict[str, bytes]) -> bool:
        data = rendered.get(self.rendering)
        if data is None:
            data = rendered[self.rendering] = b"".join(map(self.render, events))
        if self.context.pending_output + len(data) > self.settings.member_queue:
            return False
        self.context.push(Send(data))  # False: the connection is gone; closed() follows
        return True

    def dropped(self, reason: str) -> None:
        self.gone = True
        self.context.push(Send(self.render(Event("error", text=f"dropped: {reason}"))), CLOSE)

    # -- what the member's lines do --------------------------------------------------------------
    def tell(self, event: Event) -> None:
        self.context.push(Send(self.render(event)))

    def error(self, text: str) -> None:
        self.tell(Event("error", text=text))

    def lines(self, texts: list[str]) -> list[Action]:
        """Whole, decoded lines from the member (one receive's worth). Consecutive
        lines for the room go to each other member in one push."""
        out: list[Action] = []
        said: list[Event] = []
        for text in texts:
            if self.gone:
                break
            if not self.nick:
                out += self.first(text)
                continue
            if not self.gate.allow():
                self.tell_room(said)  # what came before the flood still goes
                out += self.flooding()
                continue
            self.refused = 0
            command = parse_command(text)
            if command.name in ("say", "me"):
                event = self.said(command.name, command.argument)
                if event is not None:
                    said.append(event)
                continue
            self.tell_room(said)
            out += self.command(command)
        self.tell_room(said)
        return out

    def tell_room(self, said: list[Event]) -> None:
        if said:
            self.registry.say(self, said)
            said.clear()

    def first(self, text: str) -> list[Action]:
        """The first line is the nickname; the member then joins the default room, or
        the room a ``/join`` before the nickname chose (so that a nickname is checked
        in the room it is for, and a refused one can be typed again without losing
        the room)."""
        if text.startswith("/") and not text.startswith("//"):
            return self.before_nick(parse_command(text))
        try:
            nick = check_nick(text.strip())
        except BadName as exc:
            self.error(f"{exc}{self.ask}")
            return []
        return self.join(nick, self.entry or self.settings.room)

    def before_nick(self, command: Command) -> list[Action]:
        """A command before the nickname: ``/join ROOM`` chooses the room to enter,
        ``/quit`` and ``/help`` do what they always do; the others wait for a name.
        The flood gate applies to these lines as to the room's."""
        if not self.gate.allow():
            return self.flooding()
        name = command.name
        if name == "join":
            try:
                self.entry = check_room(command.argument)
            except BadName as exc:
                self.error(f"{exc}{self.ask}")
                return []
            self.tell(Event("info", text=f"you will join {self.entry}{self.ask}"))
            return []
        if name in ("quit", "help"):
            return self.command(command)
        shown = command.argument if name == "unknown" else name
        self.error(f"/{shown} comes after the nickname{self.ask}")
        return []

    def join(self, nick: str, room: str) -> list[Action]:
        problem = self.registry.join(self, room, nick)
        if problem is not None:
            self.error(problem + ("" if self.nick else self.ask))
            return []
        self.tell(Event("who", room, nicks=self.registry.who(room)))
        return []

    def flooding(self) -> list[Action]:
        self.refused += 1
        kick = self.settings.flood_kick
        if kick and self.refused >= kick:
            self.registry.leave(self, "drop", "flooding")
            self.dropped("flooding")
            return []
        if self.refused == 1:
            settings = self.settings
            self.error(f"flooding: at most {settings.flood_rate} lines a second (bursts of "
                       f"{settings.flood_burst}); lines dropped until you slow down")
        return []

    def command(self, command: Command) -> list[Action]:
        name, argument = command.name, command.argument
        if name in ("say", "me"):
            return self.say(name, argument)
        if name == "who":
            self.tell(Event("who", self.room, nicks=self.registry.who(self.room)))
        elif name == "nick":
            self.rename(argument)
        elif name == "join":
            try:
                return self.join(self.nick, check_room(argument))
            except BadName as exc:
                self.error(str(exc))
        elif name == "quit":
            return self.quit()
        elif name == "help":
            for text in HELP:
                self.tell(Event("info", text=text))
        else:
            self.error(f"unknown command /{argument}; /help lists them")
        return []

    def said(self, kind: str, text: str) -> Event | None:
        """The event for a line said (or done, /me) in the room; None if refused."""
        try:
            check_text(text)
        except BadName as exc:
            self.error(f"{exc}; not sent")
            return None
        return Event(kind, self.room, self.nick, text) if self.room else None

    def say(self, kind: str, text: str) -> list[Action]:
        self.tell_room([e] if (e := self.said(kind, text)) is not None else [])
        return []

    def rename(self, argument: str) -> None:
        try:
            problem = self.registry.rename(self, check_nick(argument))
        except BadName as exc:
            problem = str(exc)
        if problem is not None:
            self.error(problem)

    def quit(self) -> list[Action]:
        self.registry.leave(self)
        self.gone = True
        self.tell(Event("info", text="bye"))
        return [CLOSE]

    # -- the connection ----------------------------------------------------------------------------
    @property
    def idle_limit(self) -> float | None:
        """A member may listen in silence for ``member_idle`` (not the binding's
        ``idle_timeout``, meant for request/reply); before its nickname, the binding's."""
        return self.settings.member_idle if self.nick else None

    def eof_received(self) -> list[Action]:
        self.registry.leave(self)
        self.gone = True
        return [CLOSE]

    def closed(self) -> None:
        self.registry.leave(self)
        self.gone = True
