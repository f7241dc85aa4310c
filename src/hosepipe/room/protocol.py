"""The room's words, without I/O: commands typed by a member, events sent back, lines.

A member's line is either text for the room or a command (``/nick NAME``, ``/who``,
``/me ACTION``, ``/join ROOM``, ``/quit``, ``/help``); :func:`parse_command` tells
which. :func:`check_nick` and :func:`check_room` validate names (length, no spaces or
control characters). :class:`LineSplitter` cuts lines out of a byte stream whatever
the split, ending in ``\\n`` or ``\\r\\n``; a line over ``max_line`` is discarded up to
its newline and reported as :data:`TOO_LONG`, so the member stays. An :class:`Event` is
what a member is told; :func:`render_line` writes it for ``nc``/``telnet`` and
:meth:`Event.as_map` for framed clients. Rendered bytes are cached on the event, so a
line fanned out to 200 members is formatted once.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMMANDS", "HELP", "MAX_NICK", "MAX_ROOM", "TOO_LONG", "BadName", "Command", "Event",
    "LineSplitter", "check_nick", "check_room", "check_text", "parse_command", "render_line",
]

MAX_NICK = 32
MAX_ROOM = 32
COMMANDS = ("nick", "who", "me", "join", "quit", "help")
HELP = (
    "commands: /nick NAME (rename), /who (who is here), /me ACTION, /join ROOM, "
    "/quit (leave), /help; any other line is said to the room",
)


class BadName(ValueError):
    """A nickname or room name that cannot be used (the message says why)."""


def _check_name(kind: str, name: str, limit: int) -> str:
    if not name:
        raise BadName(f"a {kind} cannot be empty")
    if len(name) > limit:
        raise BadName(f"a {kind} has at most {limit} characters")
    for char in name:
        if char.isspace() or unicodedata.category(char)[0] in "CZ":
            raise BadName(f"a {kind} has no spaces or control characters")
    if name[0] in "/*![":
        raise BadName(f"a {kind} cannot start with {name[0]!r}")
    return name


def check_nick(name: str) -> str:
    """``name`` if it can be a nickname, else :class:`BadName`."""
    return _check_name("nickname", name, MAX_NICK)


def check_room(name: str) -> str:
    """``name`` if it can name a room, else :class:`BadName`."""
    return _check_name("room name", name, MAX_ROOM)


def check_text(text: str) -> str:
    """A line said to the room: control characters other than tab are refused (they
    would rewrite other members' terminals)."""
    for char in text:
        if char != "\t" and unicodedata.category(char) == "Cc":
            raise BadName("a line has no control characters")
    return text


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed line: ``name`` is a command or ``"say"`` (plain text); ``argument``
    is the rest of the line."""

    name: str
    argument: str = ""


def parse_command(text: str) -> Command:
    """The command in one line. ``//text`` says ``/text``; an unknown ``/word`` is the
    command ``"unknown"`` (the caller answers with help)."""
    if not text.startswith("/") or text.startswith("//"):
        return Command("say", text[1:] if text.startswith("//") else text)
    word, _, rest = text[1:].partition(" ")
    word = word.lower()
    if word not in COMMANDS:
        return Command("unknown", word)
    return Command(word, rest.strip())


class _TooLong:
    def __repr__(self) -> str:
        return "TOO_LONG"


TOO_LONG = _TooLong()


class LineSplitter:
    """Lines out of a byte stream: ``\\n`` or ``\\r\\n``; over-long ones discarded."""

    __slots__ = ("_buf", "_discarding", "max_line")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | _TooLong]:
        """Every line completed by ``data`` (without its terminator), in order; a line
        over ``max_line`` comes out once as :data:`TOO_LONG`, as soon as it is known."""
        out: list[bytes | _TooLong] = []
        self._buf += data
        start = 0
        buf = self._buf
        while (end := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:end])
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if self._discarding:
                self._discarding = False
            elif len(line) > self.max_line:
                out.append(TOO_LONG)
            else:
                out.append(line)
        del buf[:start]
        if len(buf) > self.max_line + 1:  # a "\r" may still end a full-length line
            if not self._discarding:
                out.append(TOO_LONG)
                self._discarding = True
            buf.clear()
        return out


@dataclass(slots=True)
class Event:
    """What members are told. ``kind``: say, me, join, leave, nick (``text`` is the new
    nickname), drop (``text`` is the reason), who (``nicks``), info, error."""

    kind: str
    room: str = ""
    nick: str = ""
    text: str = ""
    nicks: tuple[str, ...] = ()
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def as_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.room:
            out["room"] = self.room
        if self.nick:
            out["nick"] = self.nick
        if self.text or self.kind in ("say", "me"):
            out["text"] = self.text
        if self.kind == "who":
            out["nicks"] = list(self.nicks)
        return out

    def cached(self, key: str, make: Any) -> bytes:
        """``make()`` once per ``key`` (a rendering) for this event."""
        data = self._cache.get(key)
        if data is None:
            data = self._cache[key] = make(self)
        return data


def _line(event: Event) -> str:  # noqa: PLR0911 - one line per kind
    kind, nick, text, room = event.kind, event.nick, event.text, event.room
    if kind == "say":
        return f"[{nick}] {text}"
    if kind == "me":
        return f"* {nick} {text}"
    if kind == "join":
        return f"* {nick} joined {room}"
    if kind == "leave":
        return f"* {nick} left {room}"
    if kind == "nick":
        return f"* {nick} is now {text}"
    if kind == "drop":
        return f"* {nick} dropped ({text})"
    if kind == "who":
        return f"* in {room}: {', '.join(event.nicks)}"
    if kind == "error":
        return f"! {text}"
    return f"* {text}"


def render_line(event: Event) -> bytes:
    """The event as one line of text for ``nc``/``telnet`` (cached on the event)."""
    return event.cached("line", lambda e: (_line(e) + "\n").encode())
