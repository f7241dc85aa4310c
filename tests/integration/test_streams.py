"""Blocking streams over real pipes and sockets: deadlines, full pipes, shared stdio."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from hosepipe import Client, Limits, MessageService
from hosepipe.client import open_stream
from hosepipe.errors import ConnectionClosed, Timeout
from hosepipe.transports.connect import ChildStream
from hosepipe.transports.streams import FdStream, SocketStream
from hosepipe.wire import FrameDecoder, encode_frame, get_codec, hello

BIG = bytes(range(256)) * 4096  # 1 MiB: sixteen times what a pipe holds


@pytest.fixture
def pipe_pair() -> Iterator[tuple[FdStream, FdStream]]:
    """Two owned FdStreams joined by two pipes, as a ``pipe:`` parent and child."""
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    parent, child = FdStream(up_r, down_w, "child"), FdStream(down_r, up_w, "parent")
    yield parent, child
    parent.close()
    child.close()


def read_exactly(stream: FdStream | SocketStream, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        chunk = stream.receive_some(5)
        assert chunk, "the stream ended early"
        got += chunk
    return bytes(got)


def test_a_send_larger_than_the_pipe_waits_for_room(
    pipe_pair: tuple[FdStream, FdStream],
) -> None:
    parent, child = pipe_pair
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_exactly(child, len(BIG))))
    reader.start()
    parent.send_all(BIG, 5)
    reader.join(10)
    assert received == [BIG]


def test_a_pipe_nobody_reads_fails_the_send_at_its_deadline(
    pipe_pair: tuple[FdStream, FdStream],
) -> None:
    parent, _child = pipe_pair
    with pytest.raises(Timeout, match=r"accepted no data for 0\.2 s"):
        parent.send_all(BIG, 0.2)


def test_a_silent_pipe_fails_the_receive_at_its_deadline(
    pipe_pair: tuple[FdStream, FdStream],
) -> None:
    parent, _child = pipe_pair
    with pytest.raises(Timeout, match=r"nothing received for 0\.1 s"):
        parent.receive_some(0.1)


def test_a_vanished_reader_is_connection_closed(pipe_pair: tuple[FdStream, FdStream]) -> None:
    parent, child = pipe_pair
    child.close()
    with pytest.raises(ConnectionClosed):
        parent.send_all(BIG, 1)
    assert parent.receive_some(1) == b""  # and the other direction reads end of stream


def test_descriptors_shared_with_others_keep_their_blocking_mode() -> None:
    read_fd, write_fd = os.pipe()
    try:
        with FdStream(read_fd, write_fd, "stdio", owned=False) as stream:
            assert os.get_blocking(write_fd)
            stream.send_all(b"hello", 1)
            assert stream.receive_some(1) == b"hello"
        os.fstat(read_fd)  # closing the stream left the shared descriptors open
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_socket_deadlines_follow_each_change() -> None:
    left, right = socket.socketpair()
    a, b = SocketStream(left, "b"), SocketStream(right, "a")
    try:
        with pytest.raises(Timeout, match=r"0\.1 s"):
            a.receive_some(0.1)
        b.send_all(b"x", 1)
        assert a.receive_some(None) == b"x"  # no deadline now: it must not time out early
        with pytest.raises(Timeout, match=r"0\.05 s"):
            a.receive_some(0.05)
    finally:
        a.close()
        b.close()


def test_a_receive_deadline_a_hair_shorter_keeps_the_one_set() -> None:
    # one setsockopt per change, not per receive: a timeout at most 1% and 1 ms below
    # the one set keeps it; anything else, longer, shorter or none, replaces it
    left, right = socket.socketpair()
    a, b = SocketStream(left, "b"), SocketStream(right, "a")

    def kernel_timeout() -> float:
        seconds, micros = struct.unpack(
            "ll", left.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16))
        return seconds + micros / 1e6

    try:
        for asked, kept in ((10.0, 10.0), (9.95, 10.0), (9.901, 10.0), (9.8, 9.8),
                            (9.8, 9.8), (20.0, 20.0), (None, 0.0), (None, 0.0),
                            (1.0, 1.0), (0.995, 1.0), (0.98, 0.98)):
            b.send_all(b"x", 1)
            assert a.receive_some(asked) == b"x"
            # (the kernel keeps it in its own ticks: a few milliseconds)
            assert kernel_timeout() == pytest.approx(kept, abs=0.005), asked
    finally:
        a.close()
        b.close()


class Mirror(MessageService):
    name = "mirror"

    def handle(self, request: Any) -> Any:
        return request


def test_pipe_child_round_trips_replies_larger_than_the_pipe() -> None:
    with Client("pipe:", service=Mirror()) as client:
        for size in (0, 1, 65_535, 65_536, 200_000, len(BIG) - 64):
            assert client.request(BIG[:size]) == BIG[:size]


def test_a_pipe_child_waits_for_its_parent_past_every_peer_deadline() -> None:
    """A ``book --local`` menu may sit unused for longer than the idle timeout."""
    quick = Limits(idle_timeout=0.2, message_timeout=0.2)
    with open_stream("pipe:", service=Mirror(), limits=quick) as stream:
        assert isinstance(stream, ChildStream)
        stream.send_all(encode_frame(hello.client_hello("msgpack")), 5)
        time.sleep(0.6)  # three idle timeouts
        stream.send_all(encode_frame(get_codec("msgpack").encode("still there?"))[:3], 5)
        time.sleep(0.4)  # and a message left half-sent for two message timeouts
        stream.send_all(encode_frame(get_codec("msgpack").encode("still there?"))[3:], 5)
        decoder = FrameDecoder()
        replies: list[bytes] = []
        while len(replies) < 2:
            decoder.feed(stream.receive_some(5))
            while (frame := decoder.next_frame()) is not None:
                replies.append(frame)
        assert get_codec("msgpack").decode(replies[1]) == {"ok": "still there?"}


def test_a_pipe_child_ends_when_its_parent_closes_the_pipes() -> None:
    stream = open_stream("pipe:", service=Mirror())
    assert isinstance(stream, ChildStream)
    child = psutil.Process(stream.pid)
    os.close(stream.write_fd)  # the parent's end of the request pipe: end of stream
    stream.write_fd = -1
    assert child.wait(5) == 0
    stream.pid = 0  # already reaped by psutil's wait
    stream.close()
