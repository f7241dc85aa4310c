"""Survival: resets, half-closed and vanishing peers under every model, and a bounded
load with no lost, duplicated or reordered reply, after which the server's descriptors,
threads and children are back to where they were."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from hosepipe import Client
from tests.conftest import ServerProcess, start_server
from tests.waiting import DEADLINE, wait_for

MODELS = ["iterative", "thread", "fork", "select", "async"]


@pytest.fixture(params=MODELS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    srv = start_server("upper@tcp://127.0.0.1:0", "square@tcp://127.0.0.1:0",
                       "--model", request.param)
    srv.model = request.param  # type: ignore[attr-defined]
    yield srv
    assert srv.stop() == 0, srv.log()


def endpoint(server: ServerProcess, service: str) -> tuple[str, int]:
    host, port = server.address(service)[6:].rsplit(":", 1)
    return host, int(port)


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def still_serving(server: ServerProcess) -> None:
    with Client(server.address("square")) as client:
        assert client.request(9) == 81


def test_abrupt_resets(server: ServerProcess) -> None:
    for service, partial in (("upper", b"half a li"), ("square", b"\x00\x00\x00\x10abc")):
        for _ in range(5):
            sock = socket.create_connection(endpoint(server, service), timeout=10)
            sock.sendall(partial)
            reset(sock)
    still_serving(server)


def test_half_closed_peer_still_gets_the_whole_reply(server: ServerProcess) -> None:
    with socket.create_connection(endpoint(server, "upper"), timeout=10) as sock:
        sock.sendall(b"knights\nwho say\nni")
        sock.shutdown(socket.SHUT_WR)
        assert sock.makefile("rb").read() == b"KNIGHTS\nWHO SAY\nNI"
    with Client(server.address("square")) as client:  # framed, then shutdown(SHUT_WR)
        client.send_request(12)
        client.stream.send_eof()
        assert client.receive_reply() == 144


def test_peers_that_vanish_mid_frame(server: ServerProcess) -> None:
    for cut in (1, 3, 4, 6):
        with Client(server.address("square")) as client:
            frame = struct.pack("!i", 20) + b"\x92" * 20
            client.stream.send_all(frame[:cut], 5)
    still_serving(server)


def resources(pid: int) -> tuple[int, int, int]:
    process = psutil.Process(pid)
    return process.num_fds(), process.num_threads(), len(process.children())


def connections_held(pid: int) -> int:
    """TCP connections the server holds (listening sockets aside)."""
    process = psutil.Process(pid)
    listed = getattr(process, "net_connections", None) or process.connections  # psutil < 6
    return sum(1 for c in listed(kind="tcp") if c.status != psutil.CONN_LISTEN)


def settle(pid: int, baseline: tuple[int, int, int], seconds: float = 15) -> tuple[int, int, int]:
    deadline = time.monotonic() + seconds
    while (now := resources(pid)) != baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    return now


@pytest.mark.parametrize("model", ["thread", "fork", "select", "async"])
def test_load_loses_nothing_and_leaves_nothing(model: str) -> None:
    server = start_server("square@tcp://127.0.0.1:0", "upper@tcp://127.0.0.1:0",
                          "--model", model, "--thread-idle", "0.3")
    try:
        # The baseline is taken after one conversation of each kind has come and gone:
        # event-loop libraries (uvloop) open their own descriptors once, on first use.
        _, threads_at_start, _ = resources(server.process.pid)
        still_serving(server)
        with socket.create_connection(endpoint(server, "upper"), timeout=10) as sock:
            sock.sendall(b"warm\n")
            sock.shutdown(socket.SHUT_WR)
            assert sock.makefile("rb").read() == b"WARM\n"
        # ... and gone: the thread model's workers retired, the fork model's children ended,
        # the connections closed (a loop closes one a turn after the peer has read its
        # end: counted before that, the baseline held one descriptor too many)
        wait_for(lambda: resources(server.process.pid)[1:] == (threads_at_start, 0)
                 and not connections_held(server.process.pid),
                 "the warm-up's workers, children and connections to go")
        baseline = resources(server.process.pid)
        errors: list[BaseException] = []
        deadline = time.monotonic() + 30

        def framed(index: int) -> None:  # pipelined: a reordering would show
            try:
                with Client(server.address("square")) as client:
                    for batch in range(10):
                        numbers = [index * 10_000 + batch * 100 + i for i in range(20)]
                        for n in numbers:
                            client.send_request(n)
                        assert [client.receive_reply() for _ in numbers] == [n * n for n in numbers]
                        if time.monotonic() > deadline:
                            return
            except BaseException as exc:
                errors.append(exc)

        def classic(index: int) -> None:
            try:
                with socket.create_connection(endpoint(server, "upper"), timeout=10) as sock:
                    words = [f"w{index}x{i}" for i in range(300)]
                    sock.sendall("".join(w + "\n" for w in words).encode())
                    sock.shutdown(socket.SHUT_WR)
                    assert sock.makefile("r").read().split() == [w.upper() for w in words]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=framed, args=(i,)) for i in range(12)]
        threads += [threading.Thread(target=classic, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE * 2)
        assert errors == []
        assert settle(server.process.pid, baseline, DEADLINE) == baseline
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["thread", "select", "async"])
def test_slowloris_and_non_readers_are_dropped_while_others_are_served(model: str) -> None:
    server = start_server(
        "upper@tcp://127.0.0.1:0", "square@tcp://127.0.0.1:0", "echo@tcp://127.0.0.1:0",
        "--model", model, "--message-timeout", "2", "--send-timeout", "2",
        "--max-per-client", "1000", "--threads", "300", "--idle-timeout", "30",
    )
    process = psutil.Process(server.process.pid)
    try:
        still_serving(server)
        rss_before = process.memory_info().rss
        slow: list[socket.socket] = []
        deaf: list[socket.socket] = []
        try:
            for i in range(200):  # half classic (a line, then a partial one), half framed
                service = "upper" if i % 2 else "square"
                sock = socket.create_connection(endpoint(server, service), timeout=10)
                sock.sendall(b"hello\n" if service == "upper" else struct.pack("!i", 100))
                sock.setblocking(False)
                slow.append(sock)
            for _ in range(50):  # send and never read (a small window, set before connecting)
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.settimeout(10)
                sock.connect(endpoint(server, "echo"))
                sock.setblocking(False)
                deaf.append(sock)
            open_slow, open_deaf = set(slow), set(deaf)
            answered = 0
            started = time.monotonic()
            chunk = b"z" * 65536
            # bounded, and shorter than the idle timeout: only the 2 s timeouts close them
            while (open_slow or open_deaf) and time.monotonic() - started < 25:
                for sock in list(open_slow):
                    try:
                        sock.send(b"a")  # one byte a round, never a whole message
                        if sock.recv(4096, socket.MSG_PEEK) == b"":
                            open_slow.discard(sock)
                    except BlockingIOError:
                        pass
                    except OSError:
                        open_slow.discard(sock)
                for sock in list(open_deaf):
                    try:
                        for _ in range(64):  # until the socket takes no more (bounded)
                            sock.send(chunk)
                    except BlockingIOError:
                        pass
                    except OSError:
                        open_deaf.discard(sock)
                with Client(server.address("square"), timeout=10) as client:  # still served
                    assert client.request(answered) == answered * answered
                    answered += 1
                time.sleep(0.5)  # the slow peers' pace, not a synchronisation
            assert not open_slow and not open_deaf, (len(open_slow), len(open_deaf))
            assert answered >= 2
            assert process.memory_info().rss - rss_before < 64 * 1024 * 1024
        finally:
            for sock in slow + deaf:
                sock.close()
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["thread", "select", "async"])
def test_out_of_descriptors_the_server_stays_up_and_recovers(model: str) -> None:
    """`ulimit -n 64` and a flood of 200 connections: the server keeps running, logs
    about one line a second at most, and serves again once the flood ends."""
    server = start_server("square@tcp://127.0.0.1:0", "--model", model, "--threads", "300",
                          "--max-per-client", "1000", max_fds=64)
    flood: list[socket.socket] = []
    try:
        still_serving(server)
        started = time.monotonic()
        for _ in range(200):
            try:
                flood.append(socket.create_connection(endpoint(server, "square"), timeout=2))
            except OSError:
                break
        time.sleep(3)  # the flood holds every descriptor for a while
        assert server.process.poll() is None
        flood_seconds = time.monotonic() - started
        for sock in flood:
            sock.close()
        flood.clear()
        recovered = None
        deadline = time.monotonic() + DEADLINE  # how fast it recovers is benchmarks' business
        while time.monotonic() < deadline:
            try:
                still_serving(server)
                recovered = time.monotonic()
                break
            except Exception:
                time.sleep(0.1)
        assert recovered is not None, f"not serving again {DEADLINE} s after the flood"
    finally:
        for sock in flood:
            sock.close()
        code = server.stop()
    log = server.log()
    complaints = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert code == 0, log[-2000:]
    assert len(complaints) <= flood_seconds * 2 + 5, complaints[:20]
