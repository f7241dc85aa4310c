"""Who is in which room, in this process, and the fan-out of events to them.

One lock guards every room: a member's line is delivered to every other member while
it is held, so each sender's lines reach everyone in the order sent, whichever thread
serves the sender (thread model) or the broker (lines from other servers). Delivery
is a push onto each member's own connection (:meth:`Member.offer`), which never
blocks; a member whose outgoing queue would pass its bound is dropped from the room
instead, and the room is told, so one member that stops reading never stalls the rest.

With a broker, every event that starts here is also handed to ``publish`` (in the
order it happened, under the lock), and events from other servers come in through
:meth:`Registry.remote`, which also keeps a roster of their members so that ``/who``
and nickname checks see the whole room (best-effort: two servers may accept the same
new nickname at the same moment).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hosepipe.room.protocol import Event

__all__ = ["Member", "Registry"]

log = logging.getLogger("hosepipe.room")

ROSTER_KINDS = ("join", "leave", "drop", "nick", "here")


class Member:
    """A member as the registry sees it; the conversations implement the delivery."""

    nick: str = ""
    room: str = ""

    def offer(self, events: list[Event], rendered: dict[str, bytes]) -> bool:
        """Queue ``events`` for this member, in one push; False if its queue is full
        (drop it). ``rendered`` caches their bytes per rendering for the next member."""
        raise NotImplementedError

    def dropped(self, reason: str) -> None:
        """The registry removed this member (it stopped reading): close it."""
        raise NotImplementedError


class Registry:
    """Rooms of this process: room -> folded nickname -> member."""

    def __init__(self, publish: Callable[[Event], None] | None = None) -> None:
        self.lock = threading.RLock()
        self.rooms: dict[str, dict[str, Member]] = {}
        self.roster: dict[str, dict[str, set[str]]] = {}  # room -> server -> nicknames
        self.publish = publish

    # -- membership --------------------------------------------------------------------------
    def taken(self, room: str, nick: str) -> bool:
        folded = nick.casefold()
        if folded in self.rooms.get(room, {}):
            return True
        return any(folded in {n.casefold() for n in nicks}
                   for nicks in self.roster.get(room, {}).values())

    def join(self, member: Member, room: str, nick: str) -> str | None:
        """Put ``member`` in ``room`` as ``nick`` (leaving its room first); an error
        message if the nickname is taken there."""
        with self.lock:
            if self.taken(room, nick) and not (member.room == room and member.nick == nick):
                return f"nickname {nick} is taken in {room}"
            if member.room:
                self._remove(member, Event("leave", member.room, member.nick))
            first = room not in self.rooms
            self.rooms.setdefault(room, {})[nick.casefold()] = member
            member.room, member.nick = room, nick
            if first and self.publish is not None:
                self.publish(Event("sync", room))  # the other servers say who is there
            self._local(Event("join", room, nick))
        return None

    def leave(self, member: Member, kind: str = "leave", reason: str = "") -> None:
        """``member`` has gone (quit, closed, dropped): tell the room."""
        with self.lock:
            if member.room:
                self._remove(member, Event(kind, member.room, member.nick, reason))

    def rename(self, member: Member, new: str) -> str | None:
        with self.lock:
            if new.casefold() != member.nick.casefold() and self.taken(member.room, new):
                return f"nickname {new} is taken in {member.room}"
            members = self.rooms[member.room]
            del members[member.nick.casefold()]
            members[new.casefold()] = member
            old, member.nick = member.nick, new
            self._local(Event("nick", member.room, old, new))
        return None

    def say(self, member: Member, events: list[Event]) -> None:
        """Lines of ``member`` (one receive's worth): to the others in one push each."""
        with self.lock:
            if member.room:
                if self.publish is not None:
                    for event in events:
                        self.publish(event)
                self._deliver(member.room, events, member)

    def who(self, room: str) -> tuple[str, ...]:
        with self.lock:
            nicks = {m.nick for m in self.rooms.get(room, {}).values()}
            for remote in self.roster.get(room, {}).values():
                nicks |= remote
        return tuple(sorted(nicks, key=str.casefold))

    def count(self) -> int:
        with self.lock:
            return sum(len(members) for members in self.rooms.values())

    # -- events ------------------------------------------------------------------------------
    def _remove(self, member: Member, event: Event) -> None:
        members = self.rooms.get(member.room, {})
        if members.get(member.nick.casefold()) is member:
            del members[member.nick.casefold()]
            if not members:
                del self.rooms[member.room]
            self._local(event)
        member.room = ""

    def _local(self, event: Event, skip: Member | None = None) -> None:
        """An event that started here: publish it, deliver it."""
        if self.publish is not None:
            self.publish(event)
        self._deliver(event.room, [event], skip)

    def _deliver(self, room: str, events: list[Event], skip: Member | None = None) -> None:
        rendered: dict[str, bytes] = {}
        full = [m for m in list(self.rooms.get(room, {}).values())
                if m is not skip and not m.offer(events, rendered)]
        for member in full:  # each drop is announced, which may drop more (bounded)
            if member.room == room:
                log.info("room %s: %s dropped: not reading", room, member.nick)
                self._remove(member, Event("drop", room, member.nick, "not reading"))
                member.dropped("not reading")

    def tell_everyone(self, event: Event) -> None:
        """A notice to every member of every room here (the broker's state)."""
        with self.lock:
            for room in list(self.rooms):
                self._deliver(room, [Event(event.kind, room, event.nick, event.text)])

    def remote(self, server: str, event: Event) -> None:
        """An event from another server: keep its roster, deliver it here."""
        with self.lock:
            if event.kind == "sync":
                for member in list(self.rooms.get(event.room, {}).values()):
                    if self.publish is not None:
                        self.publish(Event("here", event.room, member.nick))
                return
            if event.kind in ROSTER_KINDS:
                self._roster(server, event)
            if event.kind != "here" and event.room in self.rooms:
                self._deliver(event.room, [event])

    def _roster(self, server: str, event: Event) -> None:
        servers = self.roster.setdefault(event.room, {})
        nicks = servers.setdefault(server, set())
        if event.kind in ("join", "here"):
            nicks.add(event.nick)
        elif event.kind == "nick":
            nicks.discard(event.nick)
            nicks.add(event.text)
        else:
            nicks.discard(event.nick)
        if not nicks:
            del servers[server]
        if not servers:
            del self.roster[event.room]

    def forget(self, server: str) -> None:
        """``server`` said it is gone: drop its roster."""
        with self.lock:
            for room in list(self.roster):
                self.roster[room].pop(server, None)
                if not self.roster[room]:
                    del self.roster[room]

    def resync(self, *, forget: bool = True) -> None:
        """Ask the other servers again who is in each room here; after the broker was
        lost, first forget what they said before (``forget``)."""
        with self.lock:
            if forget:
                self.roster.clear()
            if self.publish is not None:
                for room in list(self.rooms):
                    self.publish(Event("sync", room))
