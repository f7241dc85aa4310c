"""The room as text lines, for ``nc`` and ``telnet`` (and ``hosepipe chat --room``).

The server greets with one line and asks for a nickname; the first line the member
sends is its nickname (a ``/join ROOM`` before it chooses the room to enter); every
later line is a command or text for the room. Lines end
in ``\\n`` or ``\\r\\n`` (telnet). A line over ``max_line`` bytes or not UTF-8 gets an
error line (``! ...``) and is not sent; the member stays. What members are told is
written by :func:`~hosepipe.room.protocol.render_line`::

    [alice] hello              a member's line
    * alice waves              /me
    * bob joined lobby         notices: joined, left, is now, dropped (reason)
    * in lobby: alice, bob     /who
    ! nickname bob is taken    an error, to this member only
"""

from __future__ import annotations

from hosepipe.room.member import MemberConversation, Settings
from hosepipe.room.protocol import TOO_LONG, Event, LineSplitter, render_line
from hosepipe.room.registry import Registry
from hosepipe.service import Action, Context

__all__ = ["GREETING", "LineMember"]

GREETING = b"* welcome to hosepipe rooms (/help lists the commands); your nickname?\n"


class LineMember(MemberConversation):
    """A member speaking text lines."""

    ask = "; your nickname?"

    def __init__(self, registry: Registry, settings: Settings, context: Context) -> None:
        super().__init__(registry, settings, context)
        self.splitter = LineSplitter(settings.max_line)

    rendering = "line"

    def render(self, event: Event) -> bytes:
        return render_line(event)

    def data_received(self, data: bytes) -> list[Action]:
        texts: list[str] = []
        for raw in self.splitter.feed(data):
            if raw is TOO_LONG:
                self.error(f"line too long (at most {self.settings.max_line} bytes); not sent")
                continue
            assert isinstance(raw, bytes)
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                self.error("line is not UTF-8; not sent")
                continue
            texts.append(text)
        return self.lines(texts)

    @property
    def partial(self) -> bool:
        return self.splitter.pending > 0
