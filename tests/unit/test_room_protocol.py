"""The room's words without I/O: commands, names, lines under every split, the flood
gate on a fake clock, and the client's event reader under every split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hosepipe.room.client import Incoming, RoomEvent, request
from hosepipe.room.member import FloodGate
from hosepipe.room.protocol import (
    MAX_NICK,
    TOO_LONG,
    BadName,
    Command,
    Event,
    LineSplitter,
    check_nick,
    check_room,
    check_text,
    parse_command,
    render_line,
)
from hosepipe.wire.codecs import get_codec
from hosepipe.wire.framing import FrameDecoder, encode_frame


@pytest.mark.parametrize(("line", "command"), [
    ("hello", Command("say", "hello")),
    ("  spaced  ", Command("say", "  spaced  ")),
    ("//slash", Command("say", "/slash")),
    ("/nick bob", Command("nick", "bob")),
    ("/NICK   bob  ", Command("nick", "bob")),
    ("/who", Command("who", "")),
    ("/me waves at all", Command("me", "waves at all")),
    ("/join kitchen", Command("join", "kitchen")),
    ("/quit", Command("quit", "")),
    ("/help", Command("help", "")),
    ("/dance now", Command("unknown", "dance")),
    ("/", Command("unknown", "")),
])
def test_commands_are_told_from_text(line: str, command: Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize("nick", ["alice", "Bob_2", "zoë", "a" * MAX_NICK, "日本"])
def test_good_nicknames(nick: str) -> None:
    assert check_nick(nick) == nick


@pytest.mark.parametrize(("nick", "why"), [
    ("", "empty"), ("a" * (MAX_NICK + 1), "at most"), ("al ice", "spaces"),
    ("al\tice", "spaces"), ("bell\x07", "control"), ("esc\x1b[2J", "control"),
    ("zero\u200bwidth", "control"), ("/nick", "start"), ("*star", "start"),
    ("[x]", "start"), ("nbsp\u00a0", "spaces"),
])
def test_bad_nicknames_are_refused_with_the_reason(nick: str, why: str) -> None:
    with pytest.raises(BadName, match=why):
        check_nick(nick)


def test_room_names_follow_the_same_rules() -> None:
    assert check_room("kitchen") == "kitchen"
    with pytest.raises(BadName):
        check_room("two words")


def test_text_may_hold_tabs_but_no_other_control_characters() -> None:
    assert check_text("a\tb") == "a\tb"
    with pytest.raises(BadName):
        check_text("clear\x1b[2J")


def test_renderings() -> None:
    assert render_line(Event("say", "lobby", "al", "hi")) == b"[al] hi\n"
    assert render_line(Event("me", "lobby", "al", "waves")) == b"* al waves\n"
    assert render_line(Event("join", "lobby", "al")) == b"* al joined lobby\n"
    assert render_line(Event("leave", "lobby", "al")) == b"* al left lobby\n"
    assert render_line(Event("nick", "lobby", "al", "bo")) == b"* al is now bo\n"
    assert render_line(Event("drop", "lobby", "al", "not reading")) == \
        b"* al dropped (not reading)\n"
    assert render_line(Event("who", "lobby", nicks=("a", "b"))) == b"* in lobby: a, b\n"
    assert render_line(Event("error", text="no")) == b"! no\n"
    assert Event("who", "lobby", nicks=("a",)).as_map() == \
        {"kind": "who", "room": "lobby", "nicks": ["a"]}


def test_an_event_is_rendered_once() -> None:
    event = Event("say", "lobby", "al", "hi")
    assert render_line(event) is render_line(event)


STREAM = b"alice\r\n/who\n" + b"x" * 20 + b"\nfine\n" + b"y" * 9 + b"\r\n\n"


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_lines_do_not_depend_on_the_split(cuts: list[int]) -> None:
    splitter = LineSplitter(max_line=10)
    lines: list[object] = []
    for piece in _split(STREAM, cuts):
        lines += splitter.feed(piece)
    assert lines == [b"alice", b"/who", TOO_LONG, b"fine", b"y" * 9, b""]
    assert splitter.pending == 0


def test_a_long_line_is_refused_before_its_newline_and_the_rest_discarded() -> None:
    splitter = LineSplitter(max_line=4)
    assert splitter.feed(b"abcdefgh") == [TOO_LONG]
    assert splitter.pending == 0
    assert splitter.feed(b"ijk" * 100) == []  # still the same line: no second error
    assert splitter.feed(b"\nok\n") == [b"ok"]


def test_a_full_length_line_may_end_in_crlf() -> None:
    splitter = LineSplitter(max_line=4)
    assert splitter.feed(b"abcd\r") == []
    assert splitter.feed(b"\n") == [b"abcd"]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_flood_gate_allows_a_burst_then_the_rate() -> None:
    clock = _Clock()
    gate = FloodGate(rate=2, burst=3, clock=clock)
    assert [gate.allow() for _ in range(5)] == [True, True, True, False, False]
    clock.now += 0.5  # one token back
    assert [gate.allow() for _ in range(2)] == [True, False]
    clock.now += 100  # never more than the burst
    assert [gate.allow() for _ in range(4)] == [True, True, True, False]


EVENTS = [{"kind": "join", "room": "lobby", "nick": "al"},
          {"kind": "say", "room": "lobby", "nick": "bo", "text": "hé\n[x]"},
          {"kind": "who", "room": "lobby", "nicks": ["al", "bo"]}]
SERVER_BYTES = b"* welcome; your nickname?\n" + b"".join(
    encode_frame(get_codec("msgpack").encode(e)) for e in EVENTS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(SERVER_BYTES)), max_size=12))
def test_the_client_reads_events_whatever_the_split(cuts: list[int]) -> None:
    incoming = Incoming()
    events: list[RoomEvent] = []
    for piece in _split(SERVER_BYTES, cuts):
        events += incoming.feed(piece)
    assert events == [RoomEvent("join", "lobby", "al"),
                      RoomEvent("say", "lobby", "bo", "hé\n[x]"),
                      RoomEvent("who", "lobby", nicks=("al", "bo"))]


def test_client_requests_are_frames_with_an_op() -> None:
    decoder = FrameDecoder()
    decoder.feed(request("join", nick="al", room="lobby"))
    payload = decoder.next_frame()
    assert payload is not None
    assert get_codec("msgpack").decode(payload) == {"op": "join", "nick": "al", "room": "lobby"}
