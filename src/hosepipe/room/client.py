"""Room clients for programs: :class:`RoomClient` (blocking) and :class:`AsyncRoomClient`.

Both speak the framed variant of the room protocol (:mod:`hosepipe.room.framed`) in
msgpack: the server's greeting line is skipped, then each frame is one event.
:class:`Incoming` is the sans-I/O part both share, so either is right whatever way the
bytes are split on the way::

    with RoomClient("tcp://127.0.0.1:50003") as room:
        room.join("alice", "lobby")
        room.say("hello")
        for event in room.events(timeout=5):
            print(event.kind, event.nick, event.text)
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from hosepipe.address import InetAddress, UnixAddress, parse_address
from hosepipe.errors import ConnectError, ConnectionClosed, RemoteError, Timeout, UsageError
from hosepipe.transports.connect import connect_stream
from hosepipe.wire.codecs import get_codec
from hosepipe.wire.framing import FrameDecoder, encode_frame

__all__ = ["AsyncRoomClient", "Incoming", "RoomClient", "RoomEvent"]

CODEC = get_codec("msgpack")
MAX_GREETING = 4096


@dataclass(frozen=True)
class RoomEvent:
    """One thing the room said: ``kind`` is say, me, join, leave, nick (``text``: the
    new nickname), drop (``text``: why), who (``nicks``), info or error."""

    kind: str
    room: str = ""
    nick: str = ""
    text: str = ""
    nicks: tuple[str, ...] = ()

    @classmethod
    def from_map(cls, value: Any) -> RoomEvent:
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
            raise RemoteError("bad-event", f"not a room event: {value!r:.80}")
        return cls(value["kind"], str(value.get("room", "")), str(value.get("nick", "")),
                   str(value.get("text", "")), tuple(map(str, value.get("nicks", ()))))


class Incoming:
    """Bytes from the server as events: the greeting line first, then frames."""

    def __init__(self) -> None:
        self.greeted = False
        self.head = b""
        self.frames = FrameDecoder()

    def feed(self, data: bytes) -> list[RoomEvent]:
        if not self.greeted:
            self.head += data
            end = self.head.find(b"\n")
            if end < 0:
                if len(self.head) > MAX_GREETING:
                    raise RemoteError("bad-greeting", "this is not a room server")
                return []
            self.greeted, data, self.head = True, self.head[end + 1 :], b""
        self.frames.feed(data)
        out = []
        while (payload := self.frames.next_frame()) is not None:
            out.append(RoomEvent.from_map(CODEC.decode(payload)))
        return out


def request(op: str, **fields: str) -> bytes:
    return encode_frame(CODEC.encode({"op": op, **fields}))


def _joined(event: RoomEvent, nick: str, room: str) -> bool:
    if event.kind == "error":
        raise RemoteError("refused", event.text)
    return event.kind == "join" and event.nick == nick and event.room == room



def _take(queue: collections.deque[RoomEvent], seen: int,
          wanted: Any) -> tuple[RoomEvent | None, int]:
    """The first event at or after position ``seen`` that ``wanted`` accepts, taken out
    of the queue (the others stay, in order), and the position to look from next time."""
    for index in range(seen, len(queue)):
        if wanted(queue[index]):
            event = queue[index]
            del queue[index]
            return event, index
    return None, len(queue)


def _check_waiting(ended: bool, left: float | None, timeout: float | None) -> None:
    """Raise if waiting for more can bring nothing: the stream ended, or time is up."""
    if ended:
        raise ConnectionClosed("the room server closed the connection")
    if left is not None and left <= 0:
        raise Timeout(f"no answer from the room in {timeout:g} s")

class RoomClient:
    """A member of a room, from a program (blocking)."""

    def __init__(self, address: str, *, timeout: float | None = 10.0) -> None:
        self.stream = connect_stream(address, timeout=timeout)
        self.timeout = timeout
        self.incoming = Incoming()
        self.queue: collections.deque[RoomEvent] = collections.deque()
        self.ended = False

    def _fill(self, timeout: float | None) -> bool:
        """Read once; False if nothing came in ``timeout``."""
        try:
            data = self.stream.receive_some(timeout)
        except (TimeoutError, Timeout):
            return False
        except ConnectionClosed:
            data = b""
        if not data:
            self.ended = True
            return False
        self.queue.extend(self.incoming.feed(data))
        return True

    def next_event(self, timeout: float | None = None) -> RoomEvent | None:
        """The next event, or None if none came within ``timeout`` (or the room ended)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.queue and not self.ended:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            self._fill(left)
        return self.queue.popleft() if self.queue else None

    def events(self, timeout: float | None = None) -> Iterator[RoomEvent]:
        """Events as they arrive, until none comes for ``timeout`` or the room ends."""
        while (event := self.next_event(timeout)) is not None:
            yield event

    def _wait(self, wanted: Any) -> RoomEvent:
        """The first event ``wanted`` accepts; events before it stay queued."""
        seen = 0
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            event, seen = _take(self.queue, seen, wanted)
            if event is not None:
                return event
            left = None if deadline is None else deadline - time.monotonic()
            _check_waiting(self.ended, left, self.timeout)
            self._fill(left)

    def join(self, nick: str, room: str = "lobby") -> None:
        """Be ``nick`` in ``room`` (RemoteError if refused: a nickname taken, ...)."""
        self.stream.send_all(request("join", nick=nick, room=room), self.timeout)
        self._wait(lambda e: _joined(e, nick, room))
        self._wait(lambda e: e.kind == "who" and e.room == room)  # who was there

    def say(self, text: str) -> None:
        self.stream.send_all(request("say", text=text), self.timeout)

    def me(self, text: str) -> None:
        self.stream.send_all(request("me", text=text), self.timeout)

    def who(self) -> tuple[str, ...]:
        """Who is in the room now."""
        self.stream.send_all(request("who"), self.timeout)
        return self._wait(lambda e: e.kind == "who").nicks

    def close(self) -> None:
        """Leave the room (``quit``) and close the connection."""
        try:
            if not self.ended:
                self.stream.send_all(request("quit"), self.timeout)
        except OSError:
            pass
        self.stream.close()

    def __enter__(self) -> RoomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRoomClient:
    """A member of a room, from asyncio: ``await AsyncRoomClient.connect(address)``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float | None) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self.incoming = Incoming()
        self.queue: collections.deque[RoomEvent] = collections.deque()
        self.ended = False

    @classmethod
    async def connect(cls, address: str, *, timeout: float | None = 10.0) -> AsyncRoomClient:
        where = parse_address(address)
        try:
            if isinstance(where, InetAddress) and where.scheme == "tcp":
                opened = asyncio.open_connection(where.host, where.port)
            elif isinstance(where, UnixAddress):
                opened = asyncio.open_unix_connection(where.sockaddr)  # type: ignore[arg-type]
            else:
                raise UsageError(f"AsyncRoomClient connects to tcp:// or unix://, not {where}")
            reader, writer = await asyncio.wait_for(opened, timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectError(f"cannot connect to {where}: {exc}") from exc
        return cls(reader, writer, timeout)

    async def _send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def _fill(self, timeout: float | None) -> bool:
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except asyncio.TimeoutError:
            return False
        if not data:
            self.ended = True
            return False
        self.queue.extend(self.incoming.feed(data))
        return True

    async def next_event(self, timeout: float | None = None) -> RoomEvent | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self.queue and not self.ended:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                break
            await self._fill(left)
        return self.queue.popleft() if self.queue else None

    async def events(self, timeout: float | None = None) -> AsyncIterator[RoomEvent]:
        while (event := await self.next_event(timeout)) is not None:
            yield event

    async def _wait(self, wanted: Any) -> RoomEvent:
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        seen = 0
        while True:
            event, seen = _take(self.queue, seen, wanted)
            if event is not None:
                return event
            left = None if deadline is None else deadline - loop.time()
            _check_waiting(self.ended, left, self.timeout)
            await self._fill(left)

    async def join(self, nick: str, room: str = "lobby") -> None:
        await self._send(request("join", nick=nick, room=room))
        await self._wait(lambda e: _joined(e, nick, room))
        await self._wait(lambda e: e.kind == "who" and e.room == room)

    async def say(self, text: str) -> None:
        await self._send(request("say", text=text))

    async def me(self, text: str) -> None:
        await self._send(request("me", text=text))

    async def who(self) -> tuple[str, ...]:
        await self._send(request("who"))
        return (await self._wait(lambda e: e.kind == "who")).nicks

    async def close(self) -> None:
        if not self.ended:
            try:
                await self._send(request("quit"))
            except (OSError, ConnectionError):
                pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (OSError, ConnectionError):
            pass

    async def __aenter__(self) -> AsyncRoomClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
