"""Cutting messages out of a byte stream: frames, lines, and classic conversations.

Three decoders, each fed with ``feed(data)`` and drained with ``next_*()`` until it
returns ``None``. None of them cares how the bytes were split on the way.

**Frames** are the layout of :mod:`multiprocessing.connection`: a 4-byte big-endian
signed length, then the payload; a length of -1 is followed by an 8-byte unsigned length
for payloads of 2 GiB and more. A header announcing more than ``max_frame`` is refused
as soon as the header is complete, before any of the body is kept.

**Lines** end in ``\\n``; a ``\\r`` before it belongs to the terminator. A line longer
than ``max_line`` is refused as soon as that many bytes have arrived without a newline.

**Classic conversations** serve two kinds of client on one port (docs/protocols.md):

1. line clients (netcat, telnet, ``makefile()``), whose messages end in ``\\n``/``\\r\\n``;
2. bare clients, which send one unterminated message per ``send()`` and wait.

The rule: a newline always ends a message. Bytes without a newline become a message
when the peer goes quiet (the driver calls :meth:`ClassicDecoder.pause` after the
configured quiet interval) or ends the stream -- but only until the connection has shown
itself to be a line client: once a message has ended with a newline, a partial line
waits for its newline (or the end of the stream) and is never answered half.
The result depends only on the sequence of bytes and pause/EOF events, never on how the
bytes were split, which the tests check with Hypothesis.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from hosepipe.errors import FrameTooLarge, LineTooLong, ProtocolError
from hosepipe.wire.buffer import ReceiveBuffer

__all__ = [
    "MAX_FRAME",
    "MAX_LINE",
    "ClassicDecoder",
    "FrameDecoder",
    "LineDecoder",
    "Message",
    "encode_frame",
    "frame_header",
]

MAX_FRAME = 1024 * 1024
MAX_LINE = 64 * 1024

_I32 = struct.Struct("!i")
_U64 = struct.Struct("!Q")
_SMALL_LIMIT = 0x7FFFFFFF
_HEADER = -1  # FrameDecoder._need while a header is partly held


def frame_header(size: int) -> bytes:
    """The header that announces a payload of ``size`` bytes."""
    if size < _SMALL_LIMIT:
        return _I32.pack(size)
    return _I32.pack(-1) + _U64.pack(size)


def encode_frame(payload: bytes | bytearray | memoryview) -> bytes:
    """Header plus payload, ready to send in one write."""
    size = len(payload)
    if size < _SMALL_LIMIT:
        return _I32.pack(size) + payload
    return frame_header(size) + payload


class FrameDecoder:
    """Length-prefixed frames, :mod:`multiprocessing.connection` compatible.

    Whole frames are cut out as the bytes arrive; only one partial frame is ever held,
    so the buffer never exceeds ``max_frame`` plus a header. When a chunk holds whole
    frames, their payloads are sliced straight out of it (one copy).
    """

    __slots__ = ("_buf", "_frames", "_need", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = ReceiveBuffer(max_frame + 12)
        self._frames: deque[bytes] = deque()
        # what the next bytes complete: None, a new frame (nothing is held); _HEADER, a
        # header partly held; else the payload size announced by the header
        self._need: int | None = None

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buf)

    @property
    def holding(self) -> bool:
        """True from a frame's first byte until its last (even if only its header has
        arrived and nothing is buffered)."""
        return self._need is not None

    def _check(self, size: int) -> int:
        if size < 0:
            raise ProtocolError(f"frame header announces a negative length ({size})")
        if size > self.max_frame:
            raise FrameTooLarge(size, self.max_frame)
        return size

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Take received bytes; an oversize header is refused here, at once."""
        self._feed(memoryview(data), stop=False)

    def feed_one(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take bytes only until one whole frame is held; return the rest untouched.

        For protocols where raw bytes (a file) follow a frame: what comes after the
        frame is not parsed as frames.
        """
        return bytes(self._feed(memoryview(data), stop=True))

    def _feed(self, view: memoryview, *, stop: bool) -> memoryview:
        while view:
            if stop and self._frames:
                return view
            need = self._need
            if need is None and len(view) >= 4:
                view = self._fast(view)
            elif need is None or need == _HEADER:
                view = self._header_bytes(view)
            else:
                take = need - len(self._buf)
                self._buf.append(view[:take])
                view = view[take:]
                if len(self._buf) == need:
                    self._frames.append(self._buf.take_all())
                    self._need = None
        return view

    def _fast(self, view: memoryview) -> memoryview:
        """Header at the start of ``view`` with nothing held: slice without buffering."""
        (size,) = _I32.unpack_from(view)
        if size == -1:
            return self._header_bytes(view)
        self._check(size)
        end = 4 + size
        if len(view) >= end:
            self._frames.append(bytes(view[4:end]))
            return view[end:]
        self._need = size
        return view[4:]

    def _header_bytes(self, view: memoryview) -> memoryview:
        """Collect header bytes; set ``_need`` once the header is whole."""
        held = len(self._buf)  # a 4-byte header is parsed when whole: >= 4 means "-1"
        missing = 4 - held if held < 4 else 12 - held
        self._buf.append(view[:missing])
        view = view[missing:]
        header = self._buf.peek(12)
        self._need = _HEADER
        if len(header) < 4:
            return view
        (size,) = _I32.unpack_from(header)
        if size == -1:
            if len(header) < 12:
                return view
            (size,) = _U64.unpack_from(header, 4)
        self._need = self._check(size)
        self._buf.take_all()
        if size == 0:
            self._frames.append(b"")
            self._need = None
        return view

    def only_frame(self, data: bytes) -> bytes | None:
        """The payload, when nothing is held or queued and ``data`` is exactly one whole
        frame (the usual case of request/reply: one receive, one frame); else ``None``
        and nothing is taken: the caller feeds ``data`` as usual.

        A shortcut with the same result as :meth:`feed` then :meth:`next_frame`, minus
        the queue and the views; oversize and malformed headers go the long way and are
        refused there.
        """
        if len(data) < 4 or self._frames or self._need is not None:
            return None
        (size,) = _I32.unpack_from(data)
        if size != len(data) - 4 or size > self.max_frame:
            return None
        return data[4:]

    def next_frame(self) -> bytes | None:
        """The next whole payload, or ``None`` until more bytes arrive."""
        return self._frames.popleft() if self._frames else None


@dataclass(frozen=True, slots=True)
class Message:
    """One message cut from a text stream, with the terminator it came with.

    ``terminator`` is ``b"\\n"``, ``b"\\r\\n"`` or ``b""`` (ended by a pause or by the
    end of the stream); a reply should end with the same one.
    """

    body: bytes
    terminator: bytes


class LineDecoder:
    """Lines ending in ``\\n`` (or ``\\r\\n``), each at most ``max_line`` bytes.

    Whole lines are cut out as soon as they arrive, so the buffer only ever holds the
    partial line at the end, and each byte is scanned for a newline once.
    """

    __slots__ = ("_buf", "_lines", "_scanned", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        # the partial line plus one received chunk (drivers read at most 1 MiB)
        self._buf = ReceiveBuffer(max_line + 2 + (1 << 20))
        self._lines: deque[Message] = deque()
        self._scanned = 0  # bytes of the partial line already known to hold no newline

    @property
    def pending(self) -> int:
        """Bytes of a line whose newline has not arrived."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf.append(data)
        while (index := self._buf.find(b"\n", self._scanned)) >= 0:
            raw = self._buf.take(index + 1)
            self._scanned = 0
            if raw.endswith(b"\r\n"):
                message = Message(raw[:-2], b"\r\n")
            else:
                message = Message(raw[:-1], b"\n")
            if len(message.body) > self.max_line:
                raise LineTooLong(self.max_line)
            self._lines.append(message)
        self._scanned = len(self._buf)
        # one byte over the limit is allowed only if it is a "\r" that may start "\r\n"
        over = self._scanned - self.max_line
        if over > 1 or (over == 1 and self._buf.peek_last() != b"\r"):
            raise LineTooLong(self.max_line)

    def next_line(self) -> Message | None:
        """The next whole line, or ``None`` until its newline arrives."""
        return self._lines.popleft() if self._lines else None

    def take_rest(self) -> Message | None:
        """The partial line, as an unterminated message (used at a pause or EOF)."""
        if not len(self._buf):
            return None
        self._scanned = 0
        return Message(self._buf.take_all(), b"")


class ClassicDecoder:
    """Messages of a classic conversation: lines, or bare messages ended by a pause."""

    __slots__ = ("_lines", "_messages", "line_client")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._lines = LineDecoder(max_line)
        self._messages: deque[Message] = deque()
        self.line_client = False

    @property
    def wants_pause(self) -> bool:
        """True when held bytes would become a message if the peer went quiet."""
        return not self.line_client and self._lines.pending > 0

    @property
    def pending(self) -> int:
        return self._lines.pending

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._lines.feed(data)
        while (message := self._lines.next_line()) is not None:
            self.line_client = True
            self._messages.append(message)

    def pause(self) -> None:
        """The peer has been quiet for the pause interval."""
        if not self.line_client:
            self._flush_rest()

    def end_of_stream(self) -> None:
        """The peer will send no more: a partial message still counts."""
        self._flush_rest()

    def _flush_rest(self) -> None:
        rest = self._lines.take_rest()
        if rest is not None:
            self._messages.append(rest)

    def next_message(self) -> Message | None:
        return self._messages.popleft() if self._messages else None
