"""The room registry without sockets: members that record what they are offered (or
refuse it, as a full queue does), and events from other servers as a broker hands them
over."""

from __future__ import annotations

from hosepipe.room.protocol import Event, render_line
from hosepipe.room.registry import Member, Registry


class Fake(Member):
    def __init__(self, room_for: int = 1 << 30) -> None:
        self.room_for = room_for  # bytes it can still take
        self.got: list[bytes] = []
        self.why = ""

    def offer(self, events: list[Event], rendered: dict[str, bytes]) -> bool:
        data = rendered.setdefault("line", b"".join(map(render_line, events)))
        if len(data) > self.room_for:
            return False
        self.room_for -= len(data)
        self.got.append(data)
        return True

    def dropped(self, reason: str) -> None:
        self.why = reason


def test_a_full_member_is_dropped_and_the_room_told() -> None:
    registry = Registry()
    alice, bob, full = Fake(), Fake(), Fake(room_for=60)
    for member, nick in ((alice, "alice"), (bob, "bob"), (full, "full")):
        assert registry.join(member, "lobby", nick) is None
    registry.say(alice, [Event("say", "lobby", "alice", "x" * 100)])
    assert full.why == "not reading"
    assert full.room == ""
    assert bob.got[-2:] == [b"[alice] " + b"x" * 100 + b"\n", b"* full dropped (not reading)\n"]
    assert registry.who("lobby") == ("alice", "bob")


def test_one_push_per_member_for_a_batch_rendered_once() -> None:
    registry = Registry()
    alice, bob = Fake(), Fake()
    registry.join(alice, "lobby", "alice")
    registry.join(bob, "lobby", "bob")
    bob.got.clear()
    registry.say(alice, [Event("say", "lobby", "alice", "a"), Event("me", "lobby", "alice", "b")])
    assert bob.got == [b"[alice] a\n* alice b\n"]
    assert alice.got[-1] == b"* bob joined lobby\n"  # nothing of her own back


def test_nicknames_are_unique_per_room_case_folded() -> None:
    registry = Registry()
    alice, other = Fake(), Fake()
    registry.join(alice, "lobby", "Alice")
    assert registry.join(other, "lobby", "alice") == "nickname alice is taken in lobby"
    assert registry.join(other, "kitchen", "alice") is None
    assert registry.rename(other, "ALICE") is None  # its own name, another case
    assert registry.join(other, "lobby", "ALICE") == "nickname ALICE is taken in lobby"


def test_other_servers_members_are_known_and_forgotten() -> None:
    published: list[Event] = []
    registry = Registry(publish=published.append)
    alice = Fake()
    registry.join(alice, "lobby", "alice")
    assert [e.kind for e in published] == ["sync", "join"]  # who is there, elsewhere?
    registry.remote("s2", Event("here", "lobby", "bob"))
    registry.remote("s2", Event("join", "lobby", "carol"))
    registry.remote("s2", Event("say", "lobby", "carol", "hi"))
    assert registry.who("lobby") == ("alice", "bob", "carol")
    assert registry.join(Fake(), "lobby", "bob") == "nickname bob is taken in lobby"
    registry.remote("s2", Event("nick", "lobby", "carol", "cara"))
    assert registry.who("lobby") == ("alice", "bob", "cara")
    registry.remote("s3", Event("sync", "lobby"))  # a new server asks
    assert published[-1] == Event("here", "lobby", "alice")
    registry.forget("s2")
    assert registry.who("lobby") == ("alice",)
    assert alice.got[-2:] == [b"[carol] hi\n", b"* carol is now cara\n"]
