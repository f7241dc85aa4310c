"""Cutting messages out of a byte stream: frames, lines, and classic conversations.

Three decoders, each fed with ``feed(data)`` and drained with ``next_*()`` until it
returns ``None``. Frames and lines never depend on how the bytes were split on the way.
Each keeps the bytes as they arrive and cuts a message out only when asked for the
next one, so pipelined input costs its own bytes until it is answered, and a caller
may stop asking (the server's back-pressure) and go on later.

**Frames** are the layout of :mod:`multiprocessing.connection`: a 4-byte big-endian
signed length, then the payload; a length of -1 is followed by an 8-byte unsigned length
for payloads of 2 GiB and more. A header announcing more than ``max_frame`` is refused
as soon as the header is complete, before any of the body is kept.

**Lines** end in ``\\n``; a ``\\r`` before it belongs to the terminator. A line longer
than ``max_line`` is refused as soon as that many bytes have arrived without a newline.

**Classic conversations** serve two kinds of client on one port (docs/protocols.md):

1. line clients (netcat, telnet, ``makefile()``), whose messages end in ``\\n``/``\\r\\n``;
2. bare clients, which send one unterminated message per ``send()`` and wait.

The rule (each :meth:`ClassicDecoder.feed` is one receive):

1. A newline always ends a message.
2. Until the peer has shown it is a line client, what one receive brings after its
   last newline is a message at once, as the tutorials' own servers take one
   ``recv()`` for one message: a bare client gets every answer, its first included,
   without waiting for anything.
3. A message ended by a newline shows a line client: from then on a partial line waits
   for its newline (or the end of the stream) and is never answered half.
4. ``keep_pausing`` replaces rule 2 for peers that send a bare message in several
   pieces, or a first line in several writes: bytes without a newline then become a
   message only when the peer goes quiet for the pause (:meth:`ClassicDecoder.pause`)
   or ends the stream.

With ``keep_pausing``, and for line clients once their first line is whole, the result
depends only on the bytes and the pause/EOF events, never on how the bytes were split;
for a peer still undecided it depends on the receives, by design (a line client whose
very first line arrives in two receives is answered twice: hence rule 4). The tests
check both with Hypothesis.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hosepipe.errors import BufferOverflow, FrameTooLarge, LineTooLong, ProtocolError
from hosepipe.wire.buffer import _COMPACT_AT, ReceiveBuffer

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
RECEIVE_SLACK = 1 << 20  # room for one received chunk beyond a partial message

_I32 = struct.Struct("!i")
_U64 = struct.Struct("!Q")
_SMALL_LIMIT = 0x7FFFFFFF


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

    Bytes are kept as they arrive and frames are cut out only when asked for
    (:meth:`next_frame`), so a chunk of many pipelined frames costs its own bytes and
    nothing more until it is answered. The buffer never exceeds ``max_frame`` plus a
    header plus one received chunk (the driver stops reading while answers are held).

    The bytes are held here rather than in a :class:`ReceiveBuffer`: taking a frame is
    the hot path of every pipelined request, one header read in place and one copy.
    """

    __slots__ = ("_data", "_start", "cap", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self.cap = max_frame + 12 + RECEIVE_SLACK
        self._data = bytearray()
        self._start = 0  # bytes before it are taken; dropped lazily (see _consumed)

    @property
    def pending(self) -> int:
        """Bytes held that have not been taken as frames."""
        return len(self._data) - self._start

    @property
    def holding(self) -> bool:
        """True from a frame's first byte until its last, while no whole frame is
        waiting to be taken (a partial header counts)."""
        if not self._data:  # (empty whenever every byte held has been taken)
            return False
        try:
            return self._whole() is None
        except ProtocolError:  # a bad header is refused by next_frame, not here
            return False

    def _check(self, size: int) -> int:
        if size < 0:
            raise ProtocolError(f"frame header announces a negative length ({size})")
        if size > self.max_frame:
            raise FrameTooLarge(size, self.max_frame)
        return size

    def _whole(self) -> tuple[int, int] | None:
        """(header size, payload size) of the first frame if all of it is held; an
        oversize or malformed header raises as soon as it is whole."""
        data, start = self._data, self._start
        held = len(data) - start
        if held < 4:
            return None
        (size,) = _I32.unpack_from(data, start)
        head = 4
        if size == -1:
            if held < 12:
                return None
            (size,) = _U64.unpack_from(data, start + 4)
            head = 12
        self._check(size)
        return (head, size) if held >= head + size else None

    def _append(self, data: bytes | bytearray | memoryview) -> None:
        if self.pending + len(data) > self.cap:
            raise BufferOverflow(f"more than {self.cap} bytes of input buffered")
        self._data += data

    def _consumed(self, end: int) -> None:
        """Bytes up to ``end`` are taken: forget them, compacting only now and then so
        that taking many small frames out of one big chunk stays linear."""
        data = self._data
        if end == len(data):
            data.clear()
            self._start = 0
        elif end >= _COMPACT_AT:
            del data[:end]
            self._start = 0
        else:
            self._start = end

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Take received bytes; a first header that is oversize is refused at once."""
        self._append(data)
        self._whole()

    def feed_one(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take bytes only until one whole frame is held; return the rest untouched.

        For protocols where raw bytes (a file) follow a frame: what comes after the
        frame is not parsed as frames.
        """
        view = memoryview(data)
        while view and self._whole() is None:
            held = self.pending
            if held < 4:
                take = 4 - held
            elif _I32.unpack_from(self._data, self._start)[0] == -1 and held < 12:
                take = 12 - held
            else:
                take = self._whole_size() - held
            self._append(view[:take])
            view = view[take:]
        return bytes(view)

    def _whole_size(self) -> int:
        """Header plus payload bytes of the first frame (its header is whole)."""
        (size,) = _I32.unpack_from(self._data, self._start)
        if size == -1:
            return 12 + self._check(_U64.unpack_from(self._data, self._start + 4)[0])
        return 4 + self._check(size)

    def only_frame(self, data: bytes) -> bytes | None:
        """The payload, when nothing is held and ``data`` is exactly one whole frame
        (the usual case of request/reply: one receive, one frame); else ``None`` and
        nothing is taken: the caller feeds ``data`` as usual.

        A shortcut with the same result as :meth:`feed` then :meth:`next_frame`, minus
        the buffer; oversize and malformed headers go the long way and are refused there.
        """
        if len(data) < 4 or self._data:  # (empty whenever nothing is pending)
            return None
        (size,) = _I32.unpack_from(data)
        if size != len(data) - 4 or size > self.max_frame:
            return None
        return data[4:]

    def take_rest(self) -> bytes:
        """Every byte held and not taken as a frame (raw bytes that follow a frame)."""
        rest = bytes(self._data[self._start:])
        self._consumed(len(self._data))
        return rest

    def next_frame(self) -> bytes | None:
        """The next whole payload, or ``None`` until more bytes arrive."""
        found = self._whole()
        if found is None:
            return None
        head, size = found
        start = self._start + head
        frame = bytes(self._data[start:start + size])
        self._consumed(start + size)
        return frame


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

    Bytes are kept as they arrive and lines are cut out only when asked for
    (:meth:`next_line`): a chunk of many pipelined lines costs its own bytes until it
    is answered. Each chunk is scanned once, backwards, for its last newline, so the
    partial line at the end is known at once and refused as soon as it passes
    ``max_line``; a whole line over the limit is refused when it is taken.
    """

    __slots__ = ("_buf", "_complete", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = ReceiveBuffer(max_line + 2 + RECEIVE_SLACK)
        self._complete = 0  # held bytes up to and including the last newline

    @property
    def pending(self) -> int:
        """Bytes of a line whose newline has not arrived."""
        return len(self._buf) - self._complete

    @property
    def has_line(self) -> bool:
        """True if a whole line is waiting to be taken."""
        return self._complete > 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        chunk = data if isinstance(data, bytes | bytearray) else bytes(data)
        self._buf.append(chunk)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            self._complete = len(self._buf) - (len(chunk) - newline - 1)
        # one byte over the limit is allowed only if it is a "\r" that may start "\r\n"
        over = self.pending - self.max_line
        if over > 1 or (over == 1 and self._buf.peek_last() != b"\r"):
            raise LineTooLong(self.max_line)

    def next_line(self) -> Message | None:
        """The next whole line, or ``None`` until its newline arrives."""
        if not self._complete:
            return None
        index = self._buf.find(b"\n")
        raw = self._buf.take(index + 1)
        self._complete -= index + 1
        crlf = raw.endswith(b"\r\n")
        message = Message(raw[:-2], b"\r\n") if crlf else Message(raw[:-1], b"\n")
        if len(message.body) > self.max_line:
            raise LineTooLong(self.max_line)
        return message

    def take_rest(self) -> Message | None:
        """The partial line, as an unterminated message (at a pause or the end); only
        once every whole line has been taken."""
        if self._complete or not len(self._buf):
            return None
        return Message(self._buf.take_all(), b"")


class ClassicDecoder:
    """Messages of a classic conversation: lines, or bare messages (see the module
    docstring for the rule). Each :meth:`feed` is one receive."""

    __slots__ = ("_flush", "_lines", "keep_pausing", "line_client")

    def __init__(self, max_line: int = MAX_LINE, *, keep_pausing: bool = False) -> None:
        self._lines = LineDecoder(max_line)
        self._flush: str | None = None  # why the held partial is a message: eof, pause, receive
        self.keep_pausing = keep_pausing
        self.line_client = False

    @property
    def wants_pause(self) -> bool:
        """True when held bytes would become a message if the peer went quiet."""
        return (not self.line_client and self._lines.pending > 0 and not self._lines.has_line
                and self._flush is None)

    @property
    def pending(self) -> int:
        return self._lines.pending

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._lines.feed(data)
        if not (self.line_client or self.keep_pausing) and self._flush is None:
            self._flush = "receive"  # one receive, one message: as the tutorials' servers

    def pause(self) -> None:
        """The peer has been quiet for the pause interval."""
        if not self.line_client and self._lines.pending and self._flush is None:
            self._flush = "pause"

    def end_of_stream(self) -> None:
        """The peer will send no more: a partial message still counts."""
        self._flush = "eof"

    def next_message(self) -> Message | None:
        line = self._lines.next_line()
        if line is not None:
            self.line_client = True
            return line
        reason = self._flush
        if reason != "eof":  # the end of the stream ends every partial message after it
            self._flush = None
        if reason is None or (reason == "receive" and self.line_client):
            return None
        return self._lines.take_rest()
