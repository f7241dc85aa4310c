"""The room as framed messages, for programs (:class:`~hosepipe.room.client.RoomClient`).

The same port as the text lines: the first byte tells them apart
(:class:`~hosepipe.conversations.switch.FirstByteSwitch`). The server's greeting line
comes first in both cases (it is sent before the client speaks); a framed client reads
past its newline, then sends frames -- an optional hello agreeing on a codec
(:mod:`hosepipe.wire.hello`; msgpack by default, or json), then requests, maps with an
``op``::

    {"op": "join", "nick": "alice", "room": "lobby"}   first: the nickname, and a room
    {"op": "say", "text": "hello"}      {"op": "me", "text": "waves"}
    {"op": "nick", "nick": "al"}        {"op": "join", "room": "kitchen"}
    {"op": "who"}                       {"op": "quit"}

and receives events, one frame each, maps with a ``kind`` (say, me, join, leave, nick,
drop, who, info, error) and ``room``, ``nick``, ``text``, ``nicks`` where they apply
(see :class:`~hosepipe.room.protocol.Event`).
"""

from __future__ import annotations

from typing import Any

from hosepipe.errors import CodecError, ProtocolError
from hosepipe.room.member import MemberConversation, Settings
from hosepipe.room.protocol import BadName, Command, Event, check_nick, check_room
from hosepipe.room.registry import Registry
from hosepipe.service import CLOSE, Action, Context, Send
from hosepipe.wire.framing import FrameDecoder, encode_frame
from hosepipe.wire.messages import ServerProtocol

__all__ = ["FramedMember"]

MAX_REQUEST = 64 * 1024  # a larger frame ends the connection; a long text only errs
OPS = ("join", "say", "me", "nick", "who", "quit", "help")


def _encoder(codec: Any) -> Any:
    return lambda event: encode_frame(codec.dumps(event.as_map()))


class FramedMember(MemberConversation):
    """A member speaking framed messages."""

    def __init__(self, registry: Registry, settings: Settings, context: Context) -> None:
        super().__init__(registry, settings, context)
        self.frames = FrameDecoder(max(MAX_REQUEST, 4 * settings.max_line))
        self.protocol = ServerProtocol(default_codec="msgpack",
                                       authenticated=context.authenticated)

    @property
    def rendering(self) -> str:  # type: ignore[override]
        codec = self.protocol.codec
        return codec.name if codec is not None else "?"

    def render(self, event: Event) -> bytes:
        codec = self.protocol.codec
        assert codec is not None
        return event.cached(codec.name, _encoder(codec))

    def data_received(self, data: bytes) -> list[Action]:
        try:
            self.frames.feed(data)
            while not self.gone and (payload := self.frames.next_frame()) is not None:
                if self.protocol.codec is None:
                    reply, go_on = self.protocol.first_frame(payload)
                    if reply:
                        self.context.push(Send(reply))
                    if not go_on:
                        return [CLOSE]
                    if self.protocol.is_hello(payload):
                        continue
                self.request(payload)
        except ProtocolError as exc:  # a frame over the limit: the stream is lost
            if self.protocol.codec is not None:
                self.error(str(exc))
            return [CLOSE]
        return [CLOSE] if self.gone else []

    def request(self, payload: bytes) -> None:
        codec = self.protocol.codec
        assert codec is not None
        try:
            request = codec.decode(payload)
        except CodecError as exc:
            self.error(f"bad request: {exc}")
            return
        if not isinstance(request, dict) or request.get("op") not in OPS:
            self.error(f"a request is a map with an op: {', '.join(OPS)}")
            return
        op = request["op"]
        text = request.get("text", "")
        if op == "join":
            self.join_request(request)
        elif not isinstance(text, str):
            self.error("text is a string")
        elif not self.nick:
            self.error("join first: {'op': 'join', 'nick': NAME}")
        else:
            self.line_command(op, request)

    def join_request(self, request: dict[str, Any]) -> None:
        nick = request.get("nick", self.nick)
        room = request.get("room", self.room or self.settings.room)
        if not isinstance(nick, str) or not isinstance(room, str):
            self.error("join takes a text nick and room")
            return
        try:
            check_nick(nick)
            check_room(room)
        except BadName as exc:
            self.error(str(exc))
            return
        if not self.nick:
            self.join(nick, room)
        elif self.gate.allow():
            if nick != self.nick:
                self.rename(nick)
            if room != self.room:
                self.join(self.nick, room)
        else:
            self.flooding()

    def line_command(self, op: str, request: dict[str, Any]) -> None:
        argument = request.get("nick", "") if op == "nick" else request.get("text", "")
        if not isinstance(argument, str):
            self.error(f"{op} takes text")
            return
        if len(argument.encode(errors="replace")) > self.settings.max_line:
            self.error(f"line too long (at most {self.settings.max_line} bytes); not sent")
            return
        if not self.gate.allow():
            self.flooding()
            return
        self.refused = 0
        self.command(Command(op, argument))
