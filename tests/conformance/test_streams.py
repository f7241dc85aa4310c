"""Every transport keeps the same promises (trio's check_two_way_stream, for hosepipe):
order under any write sizes, half-close, large writes against a slow reader, receive
and send deadlines, abort from another thread, a peer vanishing mid-message, and the
non-blocking face for the loop models."""

from __future__ import annotations

import os
import random
import select
import threading

import pytest

from hosepipe.errors import ConnectionClosed, Timeout, TransportError
from hosepipe.transports.base import Stream
from tests.conformance.conftest import Pair

DEADLINE = 30.0  # bounds every wait here; the tests never rely on it being reached


def receive_exactly(stream: Stream, size: int, *, chunk: int = 65536) -> bytes:
    data = bytearray()
    while len(data) < size:
        got = stream.receive_some(DEADLINE)
        assert got, f"end of stream after {len(data)} of {size} bytes"
        data += got
    return bytes(data)


def receive_to_end(stream: Stream) -> bytes:
    data = bytearray()
    while got := stream.receive_some(DEADLINE):
        data += got
    return bytes(data)


def in_thread(work: object) -> threading.Thread:
    thread = threading.Thread(target=work)  # type: ignore[arg-type]
    thread.start()
    return thread


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_order_is_kept_under_any_write_sizes(pair: Pair, seed: int) -> None:
    client, server = pair
    rng = random.Random(seed)
    payload = os.urandom(300_000)
    sizes = []
    left = len(payload)
    while left:
        sizes.append(min(left, rng.choice([1, 7, 100, 4096, 65536, 100_000])))
        left -= sizes[-1]

    def write() -> None:
        offset = 0
        for size in sizes:
            client.send_all(payload[offset:offset + size], DEADLINE)
            offset += size

    writer = in_thread(write)
    assert receive_exactly(server, len(payload)) == payload
    writer.join(DEADLINE)


def test_both_directions_at_once(pair: Pair) -> None:
    client, server = pair
    up, down = os.urandom(2_000_000), os.urandom(2_000_000)
    got: list[bytes] = []
    threads = [in_thread(lambda: client.send_all(up, DEADLINE)),
               in_thread(lambda: server.send_all(down, DEADLINE)),
               in_thread(lambda: got.append(receive_exactly(client, len(down))))]
    assert receive_exactly(server, len(up)) == up
    for thread in threads:
        thread.join(DEADLINE)
    assert got == [down]


def test_half_close_ends_one_direction_only(pair: Pair, transport: str) -> None:
    if transport == "tls":
        pytest.skip("Python's ssl has no half-close: send_eof is a no-op over TLS")
    if transport.startswith("serial"):
        pytest.skip("a serial line has no end of stream: send_eof sends nothing")
    client, server = pair
    client.send_all(b"question", DEADLINE)
    client.send_eof()
    assert receive_to_end(server) == b"question"  # then the end of the client's stream
    server.send_all(b"answer after the end", DEADLINE)
    server.send_eof()
    assert receive_to_end(client) == b"answer after the end"


def test_a_large_write_against_a_slow_reader_arrives_whole(pair: Pair) -> None:
    client, server = pair
    payload = os.urandom(8 * 1024 * 1024)
    writer = in_thread(lambda: client.send_all(payload, DEADLINE))
    received = bytearray()
    buffer = memoryview(bytearray(1024))  # a reader that takes a little at a time
    while len(received) < len(payload):
        n = server.receive_into(buffer, DEADLINE)
        assert n, "end of stream too early"
        received += buffer[:n]
    writer.join(DEADLINE)
    assert received == payload


def test_receive_deadline(pair: Pair) -> None:
    _, server = pair
    with pytest.raises(Timeout):
        server.receive_some(0.2)


def test_send_deadline_against_a_peer_that_reads_nothing(pair: Pair) -> None:
    client, _ = pair
    with pytest.raises(Timeout):
        for _ in range(1000):  # bounded: the buffers fill long before
            client.send_all(b"x" * 1024 * 1024, 0.3)


def test_abort_from_another_thread_ends_a_blocked_receive(pair: Pair) -> None:
    _, server = pair
    outcome: list[object] = []

    def receive() -> None:
        try:
            outcome.append(server.receive_some(None))
        except TransportError as exc:
            outcome.append(exc)

    reader = in_thread(receive)
    reader.join(0.2)
    assert reader.is_alive()  # blocked: nothing was sent
    server.abort()
    reader.join(DEADLINE)
    assert not reader.is_alive()
    assert outcome[0] == b"" or isinstance(outcome[0], TransportError)


def test_the_cut_watch_fires_on_abort_and_not_on_the_peers_end(pair: Pair,
                                                                transport: str) -> None:
    # a thread that reads nothing (a conversation holding answers, or past the peer's
    # end of stream) waits on cut_watch() so that a shutdown's abort reaches it
    client, server = pair
    watch = server.cut_watch()
    if watch is None:
        pytest.skip(f"{transport}: no descriptor tells of a cut")
    poller = select.poll()
    poller.register(*watch)
    client.send_all(b"last words", DEADLINE)
    client.send_eof()  # (nothing, over TLS and serial lines)
    if transport not in ("tls",) and not transport.startswith("serial"):
        assert receive_to_end(server) == b"last words"
    assert poller.poll(100) == []  # the peer's end of stream is not a cut
    server.abort()
    assert poller.poll(DEADLINE * 1000) != []


def test_a_peer_vanishing_mid_message(pair: Pair, transport: str) -> None:
    if transport == "serial-socat":
        pytest.skip("socat's pty link does not pass on the far end's close, as a serial "
                    "line without carrier detect cannot")
    client, server = pair
    client.send_all(b"\x00\x00\x01\x00half a fr", DEADLINE)
    client.close()
    try:
        received = receive_to_end(server)
        if transport == "serial-pty":  # a pty's hang-up flushes what was not yet read
            assert received in (b"", b"\x00\x00\x01\x00half a fr")
        else:
            assert received == b"\x00\x00\x01\x00half a fr"
    except ConnectionClosed:
        pass  # a reset may come instead of an end: both are an end to the reader
    with pytest.raises(TransportError):
        for _ in range(100):
            server.send_all(b"anyone there?" * 1000, DEADLINE)


def test_the_non_blocking_face(pair: Pair) -> None:
    client, server = pair
    if not (client.nonblocking and server.nonblocking):
        pytest.skip("this transport is served on a thread, not in a loop")
    server.set_blocking(False)
    buffer = memoryview(bytearray(65536))
    with pytest.raises(BlockingIOError):
        server.receive_nowait(buffer)
    client.send_all(b"hello", DEADLINE)
    got = b""
    for _ in range(10_000):  # bounded; the bytes are on their way
        try:
            n = server.receive_nowait(buffer)
        except BlockingIOError:
            continue
        got += bytes(buffer[:n])
        if got == b"hello":
            break
    assert got == b"hello"
    sent = 0
    for _ in range(10_000):  # until the transport takes no more
        try:
            n = server.send_views_nowait([memoryview(b"y" * 65536)])
        except BlockingIOError:
            break
        assert n > 0
        sent += n
    else:
        pytest.fail("the transport never filled up")
    assert sent > 0
