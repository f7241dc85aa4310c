"""Framers fed whole, one byte at a time and in random splits; limits refused early."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hosepipe.errors import BufferOverflow, FrameTooLarge, LineTooLong, ProtocolError
from hosepipe.wire import ClassicDecoder, FrameDecoder, LineDecoder, ReceiveBuffer, encode_frame
from hosepipe.wire.framing import Message, frame_header


def splits(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``data`` cut at the given offsets (sorted, de-duplicated, in range)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    start = 0
    for point in [*points, len(data)]:
        if point > start:
            yield data[start:point]
            start = point


def every_way(data: bytes, cuts: list[int]) -> list[list[bytes]]:
    return [[data], [data[i : i + 1] for i in range(len(data))], list(splits(data, cuts))]


def decode_frames(chunks: list[bytes], max_frame: int = 1 << 20) -> list[bytes]:
    decoder = FrameDecoder(max_frame)
    out = []
    for chunk in chunks:
        decoder.feed(chunk)
        while (frame := decoder.next_frame()) is not None:
            out.append(frame)
    assert decoder.pending == 0 and not decoder.holding
    return out


payloads = st.lists(st.binary(max_size=300), max_size=8)
cut_points = st.lists(st.integers(min_value=0, max_value=10_000), max_size=20)


@given(payloads, cut_points)
@settings(max_examples=200, deadline=None)
def test_frames_survive_any_split(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    for chunks in every_way(stream, cuts):
        assert decode_frames(chunks) == frames


def decode_with_shortcut(chunks: list[bytes], max_frame: int = 1 << 20) -> list[bytes]:
    """As the message conversation and the client decode: ``only_frame`` first."""
    decoder = FrameDecoder(max_frame)
    out = []
    for chunk in chunks:
        payload = decoder.only_frame(chunk)
        if payload is not None:
            out.append(payload)
            continue
        decoder.feed(chunk)
        while (frame := decoder.next_frame()) is not None:
            out.append(frame)
    assert decoder.pending == 0
    return out


@given(payloads, cut_points)
@settings(max_examples=200, deadline=None)
def test_the_one_frame_shortcut_agrees_with_feeding(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    one_per_chunk = [encode_frame(f) for f in frames]
    for chunks in [*every_way(stream, cuts), one_per_chunk]:
        assert decode_with_shortcut(chunks) == frames


def test_a_frame_is_held_from_its_first_byte_to_its_last() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(b"abc")
    for cut in range(1, len(frame)):  # the header alone too, with nothing buffered
        decoder.feed(frame[:cut])
        assert decoder.holding, cut
        decoder.feed(frame[cut:])
        assert not decoder.holding and decoder.next_frame() == b"abc"


def test_the_one_frame_shortcut_takes_only_exact_frames() -> None:
    decoder = FrameDecoder(max_frame=10)
    assert decoder.only_frame(encode_frame(b"abc")) == b"abc"
    assert decoder.only_frame(encode_frame(b"abc") + b"\0") is None  # more than one frame
    assert decoder.only_frame(encode_frame(b"abc")[:-1]) is None  # less than one
    assert decoder.only_frame(encode_frame(b"x" * 11)) is None  # oversize: refused by feed
    with pytest.raises(FrameTooLarge):
        decoder.feed(encode_frame(b"x" * 11))
    held = FrameDecoder()
    held.feed(b"\0\0")  # half a header held: the next chunk is not a frame on its own
    assert held.only_frame(encode_frame(b"abc")) is None
    assert held.pending == 2


def test_frame_layout_is_multiprocessing_connection() -> None:
    """Bytes written by the stdlib Connection decode here, and ours decode there."""
    r, w = os.pipe()
    writer, reader = Connection(w, readable=False), Connection(r, writable=False)
    try:
        writer.send_bytes(b"from the stdlib")
        data = os.read(r, 100)
        assert decode_frames([data]) == [b"from the stdlib"]
        os.write(w, encode_frame(b"from hosepipe"))
        assert reader.recv_bytes() == b"from hosepipe"
    finally:
        writer.close()
        reader.close()


def test_oversize_frame_refused_from_the_header_alone() -> None:
    decoder = FrameDecoder(max_frame=100)
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed(struct.pack("!i", 101))  # the header only: no body was ever sent
    assert info.value.size == 101 and info.value.limit == 100


def test_huge_frame_header_refused_without_buffering() -> None:
    decoder = FrameDecoder(max_frame=1 << 20)
    with pytest.raises(FrameTooLarge):
        decoder.feed(frame_header(5 * 2**30))  # the -1 + 8-byte form
    assert frame_header(5 * 2**30)[:4] == struct.pack("!i", -1)


def test_many_small_frames_in_one_chunk_are_not_an_overflow() -> None:
    frames = [b"%d" % i for i in range(10_000)]
    chunk = b"".join(encode_frame(f) for f in frames)
    assert len(chunk) > 10 * 100
    assert decode_frames([chunk], max_frame=100) == frames


def test_frame_at_the_limit_is_accepted() -> None:
    assert decode_frames([encode_frame(b"x" * 100)], max_frame=100) == [b"x" * 100]


def test_negative_length_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(struct.pack("!i", -7))


def test_receive_buffer_cap() -> None:
    buffer = ReceiveBuffer(cap=10)
    buffer.append(b"0123456789")
    with pytest.raises(BufferOverflow):
        buffer.append(b"x")
    assert buffer.take(4) == b"0123" and len(buffer) == 6


lines_text = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=8
)
terminators = st.sampled_from([b"\n", b"\r\n"])


@given(lines_text, terminators, cut_points)
@settings(max_examples=200, deadline=None)
def test_lines_survive_any_split(bodies: list[bytes], end: bytes, cuts: list[int]) -> None:
    stream = b"".join(body + end for body in bodies)
    for chunks in every_way(stream, cuts):
        decoder = LineDecoder(max_line=100)
        got = []
        for chunk in chunks:
            decoder.feed(chunk)
            while (line := decoder.next_line()) is not None:
                got.append(line)
        expected = [
            Message(b[:-1], b"\r\n") if end == b"\n" and b.endswith(b"\r") else Message(b, end)
            for b in bodies
        ]
        assert got == expected


def test_long_line_refused_before_its_newline() -> None:
    decoder = LineDecoder(max_line=8)
    decoder.feed(b"12345678")  # at the limit: fine
    decoder.feed(b"\r")  # may be the start of "\r\n"
    decoder.feed(b"\n")
    assert decoder.next_line() == Message(b"12345678", b"\r\n")
    decoder.feed(b"12345678")
    with pytest.raises(LineTooLong):
        decoder.feed(b"9")


def test_long_line_refused_inside_one_chunk_when_it_is_reached() -> None:
    decoder = LineDecoder(max_line=4)
    decoder.feed(b"ok\ntoo long\n")  # whole lines are cut out lazily, in order
    assert decoder.next_line() == Message(b"ok", b"\n")
    with pytest.raises(LineTooLong):
        decoder.next_line()


def test_pipelined_lines_cost_their_bytes_until_taken() -> None:
    decoder = LineDecoder(max_line=10)
    decoder.feed(b"a\n" * 50_000)  # nothing is cut out until asked for
    assert decoder.has_line and decoder.pending == 0
    assert decoder.next_line() == Message(b"a", b"\n")
    assert sum(1 for _ in iter(decoder.next_line, None)) == 49_999


def test_line_limit_counts_body_not_terminator() -> None:
    decoder = LineDecoder(max_line=4)
    decoder.feed(b"abcd\r\n")
    assert decoder.next_line() == Message(b"abcd", b"\r\n")


# -- the classic rule: events are bytes, pauses and EOF ----------------------------------

Event = bytes | str  # bytes: data; "pause" or "eof"


def run_classic(events: list[Event], max_line: int = 1000, *,
                keep_pausing: bool = False) -> list[Message]:
    decoder = ClassicDecoder(max_line, keep_pausing=keep_pausing)
    out = []
    for event in events:
        if event == "pause":
            decoder.pause()
        elif event == "eof":
            decoder.end_of_stream()
        else:
            assert isinstance(event, bytes)
            decoder.feed(event)
        while (message := decoder.next_message()) is not None:
            out.append(message)
    return out


def resplit(events: list[Event], cuts: list[int], mode: str) -> list[Event]:
    """The same conversation with every run of data bytes split another way."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, str):
            out.append(event)
        elif mode == "bytes":
            out.extend(event[i : i + 1] for i in range(len(event)))
        else:
            out.extend(splits(event, cuts))
    return out


conversations = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=30).map(lambda b: b.replace(b"\n", b" ")),
        st.sampled_from([b"\n", b"\r\n", b"7\n8\n"]),
        st.just("pause"),
    ),
    max_size=12,
).map(lambda events: [*events, "eof"])


@given(conversations, cut_points)
@settings(max_examples=300, deadline=None)
def test_classic_rule_with_keep_pausing_ignores_how_bytes_were_split(
        events: list[Event], cuts: list[int]) -> None:
    whole = run_classic(events, keep_pausing=True)
    assert run_classic(resplit(events, cuts, "bytes"), keep_pausing=True) == whole
    assert run_classic(resplit(events, cuts, "random"), keep_pausing=True) == whole


@given(conversations, cut_points)
@settings(max_examples=300, deadline=None)
def test_a_line_client_s_messages_ignore_how_bytes_were_split(
        events: list[Event], cuts: list[int]) -> None:
    first: list[Event] = [b"hello\n"]  # a line client from its first receive
    whole = run_classic([*first, *events])
    assert run_classic([*first, *resplit(events, cuts, "bytes")]) == whole
    assert run_classic([*first, *resplit(events, cuts, "random")]) == whole


@given(conversations)
@settings(max_examples=300, deadline=None)
def test_an_undecided_peer_s_receive_is_a_message_as_a_pause_would_make_it(
        events: list[Event]) -> None:
    """Until a newline, each receive counts as if a pause followed it."""
    paused: list[Event] = []
    for event in events:
        paused.append(event)
        if isinstance(event, bytes):
            paused.append("pause")
    assert run_classic(events) == run_classic(paused, keep_pausing=True)


def test_a_bare_client_never_waits_for_the_pause() -> None:
    """The squares tutorial's client: a greeting, then one number per send()."""
    assert run_classic([b"Hi there!", b"1", b"2", b"33"]) == [
        Message(b"Hi there!", b""), Message(b"1", b""), Message(b"2", b""),
        Message(b"33", b""),
    ]


def test_a_first_line_in_two_receives_is_two_messages_unless_keep_pausing() -> None:
    """The price of rule 2, and the way out of it."""
    assert run_classic([b"12", b"3\n"]) == [Message(b"12", b""), Message(b"3", b"\n")]
    assert run_classic([b"12", b"3\n"], keep_pausing=True) == [Message(b"123", b"\n")]


def test_a_bare_client_that_sends_a_line_becomes_a_line_client() -> None:
    assert run_classic([b"Hi", "pause", b"12\n13", b"4\n"]) == [
        Message(b"Hi", b""), Message(b"12", b"\n"), Message(b"134", b"\n"),
    ]


@given(conversations)
@settings(max_examples=200, deadline=None)
def test_classic_never_answers_half_a_line_once_a_line_client(events: list[Event]) -> None:
    messages = run_classic(events)
    first_line = next((i for i, m in enumerate(messages) if m.terminator), None)
    if first_line is not None:
        # after the first newline-ended message only EOF may end a message without one
        unterminated = [m for m in messages[first_line:] if not m.terminator]
        assert len(unterminated) <= 1
        if unterminated:
            assert messages[-1] is unterminated[0]


def test_with_keep_pausing_bare_messages_end_at_a_pause() -> None:
    assert run_classic([b"1", b"2", "pause", b"3", "pause"], keep_pausing=True) == [
        Message(b"12", b""),
        Message(b"3", b""),
    ]


def test_line_client_partial_line_waits_for_its_newline() -> None:
    assert run_classic([b"Hi\nhal", "pause", b"f\n"]) == [
        Message(b"Hi", b"\n"),
        Message(b"half", b"\n"),
    ]


def test_partial_message_at_eof_is_answered() -> None:
    assert run_classic([b"last words", "eof"]) == [Message(b"last words", b"")]


def test_wants_pause_only_for_undecided_unterminated_input() -> None:
    assert not ClassicDecoder().wants_pause
    undecided = ClassicDecoder()
    undecided.feed(b"12")
    assert not undecided.wants_pause  # the receive is the message: nothing to wait for
    decoder = ClassicDecoder(keep_pausing=True)
    assert not decoder.wants_pause
    decoder.feed(b"12")
    assert decoder.wants_pause
    decoder.feed(b"\npart")
    assert not decoder.wants_pause  # a line client now: no pause will end "part"
