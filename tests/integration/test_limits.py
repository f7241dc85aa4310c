"""Every limit is configurable, and each is shown to bite against a real server."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from hosepipe import Client, RemoteError
from hosepipe.services.square import GREETING
from tests.conftest import ServerProcess, start_server
from tests.waiting import DEADLINE, recv_until, wait_for

STREAM_MODELS = ["iterative", "thread", "fork", "select", "async"]


def connect(server: ServerProcess, service: str) -> socket.socket:
    host, port = server.address(service)[6:].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes (or resets) the connection within ``seconds``."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


@pytest.fixture
def serve() -> Iterator[list[ServerProcess]]:
    servers: list[ServerProcess] = []
    yield servers
    for server in servers:
        assert server.stop() == 0, server.log()


def full_at_two(server: ServerProcess) -> list[socket.socket]:
    """Hold two answered echo connections, and check that a third is closed at once."""
    held = [connect(server, "echo") for _ in range(2)]
    for sock in held:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
    with connect(server, "echo") as third:
        assert closed_within(third, DEADLINE)
    return held


def room_again(server: ServerProcess, held: list[socket.socket]) -> None:
    """Once one of the two has left, a new connection gets in."""
    held[0].close()
    answered: list[bytes] = []

    def let_in() -> bool:  # refused (closed at once) until the server has seen it leave
        with connect(server, "echo") as again:
            try:
                again.sendall(b"y")
                answered.append(again.recv(1))
            except (BrokenPipeError, ConnectionResetError):
                return False
        return answered[-1] == b"y"

    wait_for(let_in, "a connection to get in once one of two has left")
    held[1].close()


@pytest.mark.parametrize("model", ["thread", "fork", "select", "async"])
def test_max_connections(serve: list[ServerProcess], model: str) -> None:
    server = start_server("echo@tcp://127.0.0.1:0", "--model", model, "--max-connections", "2")
    serve.append(server)
    room_again(server, full_at_two(server))


@pytest.mark.parametrize("model", STREAM_MODELS)
def test_idle_timeout(serve: list[ServerProcess], model: str) -> None:
    server = start_server("echo@tcp://127.0.0.1:0", "--model", model, "--idle-timeout", "0.3")
    serve.append(server)
    with connect(server, "echo") as sock:
        assert closed_within(sock, 10)


@pytest.mark.parametrize("model", STREAM_MODELS)
def test_a_message_begun_beside_an_answered_one_runs_the_message_deadline(
        serve: list[ServerProcess], model: str) -> None:
    # one read holds a whole line (answered at once) and the start of the next: the
    # message deadline starts then, though nothing else about the connection changed
    # (the select and async models skip their update after a lone reply unless the
    # driver says a deadline came nearer)
    server = start_server("upper@tcp://127.0.0.1:0", "--model", model,
                          "--message-timeout", "0.5", "--idle-timeout", "120")
    serve.append(server)
    with connect(server, "upper") as sock:
        sock.sendall(b"first\n")
        assert recv_until(sock, b"\n") == b"FIRST\n"
        sock.sendall(b"second\nthi")
        assert recv_until(sock, b"\n") == b"SECOND\n"
        assert closed_within(sock, 30)  # the idle timeout would take 120 s


@pytest.mark.parametrize("model", STREAM_MODELS)
def test_max_line(serve: list[ServerProcess], model: str) -> None:
    server = start_server("upper@tcp://127.0.0.1:0", "--model", model, "--max-line", "32")
    serve.append(server)
    with connect(server, "upper") as sock:
        sock.sendall(b"a" * 32 + b"\n")
        assert recv_until(sock, b"\n") == b"A" * 32 + b"\n"
        sock.sendall(b"b" * 40 + b"\n")
        reply = sock.makefile("rb").read()
    assert reply == b"error: line longer than the limit of 32 bytes\n"


@pytest.mark.parametrize("model", ["thread", "select", "async"])
def test_max_frame(serve: list[ServerProcess], model: str) -> None:
    server = start_server("upper@tcp://127.0.0.1:0", "--model", model, "--max-frame", "100")
    serve.append(server)
    with Client(server.address("upper")) as client:
        assert client.request("x" * 80) == "X" * 80
        with pytest.raises(RemoteError, match="too-large"):
            client.request("x" * 200)


@pytest.mark.parametrize("model", STREAM_MODELS)
def test_send_timeout_drops_a_peer_that_does_not_read(serve: list[ServerProcess], model: str
                                                      ) -> None:
    server = start_server("echo@tcp://127.0.0.1:0", "--model", model, "--send-timeout", "0.5")
    serve.append(server)
    sock = connect(server, "echo")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(0.2)
    chunk = b"z" * 65536
    dropped = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # write, never read, until the server gives up
        try:
            sock.send(chunk)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
    sock.close()
    assert dropped


def test_threads_bound_the_pool(serve: list[ServerProcess]) -> None:
    server = start_server("echo@tcp://127.0.0.1:0", "--model", "thread", "--threads", "2")
    serve.append(server)
    first, second = connect(server, "echo"), connect(server, "echo")
    for sock in (first, second):
        sock.sendall(b"1")
        assert sock.recv(1) == b"1"
    with connect(server, "echo") as third:
        third.sendall(b"3")
        third.settimeout(0.5)
        with pytest.raises(TimeoutError):  # both workers are busy: it waits its turn
            third.recv(1)
        first.close()
        third.settimeout(10)
        assert third.recv(1) == b"3"
    second.close()


@pytest.mark.parametrize("model", ["thread", "select", "async"])
def test_pause_ends_bare_messages(serve: list[ServerProcess], model: str) -> None:
    """The greeting waits for the pause; after it the bare client's every receive is a
    message at once; with --keep-pausing every message waits for the pause."""
    quick = start_server("square@tcp://127.0.0.1:0", "--model", model)
    keep = start_server("square@tcp://127.0.0.1:0", "--model", model, "--pause", "3",
                        "--keep-pausing")
    serve.extend([quick, keep])
    with connect(quick, "square") as sock:
        sock.sendall(b"Hi")
        assert _receive(sock, len(GREETING)) == GREETING.encode()
        for n in (1, 2, 12):
            sock.sendall(str(n).encode())
            expected = str(n * n).encode()
            assert _receive(sock, len(expected)) == expected
    with connect(keep, "square") as sock:
        sock.sendall(b"Hi")
        assert _receive(sock, len(GREETING)) == GREETING.encode()
        sock.sendall(b"1")
        time.sleep(0.3)  # a gap shorter than the pause: the two pieces are one message
        sock.sendall(b"2")
        assert _receive(sock, 3) == b"144"


def _receive(sock: socket.socket, size: int, timeout: float = 20.0) -> bytes:
    """Exactly ``size`` bytes (a bare reply has no terminator to wait for)."""
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


@pytest.mark.parametrize("model", ["thread", "fork", "select", "async"])
def test_max_per_client(serve: list[ServerProcess], model: str) -> None:
    """One address cannot take every slot; another address still gets in."""
    server = start_server("echo@tcp://127.0.0.1:0", "--model", model, "--max-per-client", "2")
    serve.append(server)
    port = int(server.address("echo").rsplit(":", 1)[1])
    held = full_at_two(server)
    other = socket.create_connection(("127.0.0.1", port), timeout=10,
                                     source_address=("127.0.0.2", 0))
    with other:
        other.sendall(b"o")
        assert other.recv(1) == b"o"
    room_again(server, held)


@pytest.mark.parametrize("model", ["iterative", "thread", "fork", "select", "async"])
def test_listeners_keep_the_configured_backlog(serve: list[ServerProcess], model: str) -> None:
    """asyncio's create_server(sock=...) listens again with a backlog of 100 unless told."""
    server = start_server("echo@tcp://127.0.0.1:0", "--model", model)
    serve.append(server)
    port = server.address("echo").rsplit(":", 1)[1]
    with connect(server, "echo") as sock:  # served: the loop is listening by now
        sock.sendall(b"x")
        sock.settimeout(10)
        assert sock.recv(1) == b"x"
    shown = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert shown[0] == "LISTEN" and shown[2] == "1024", shown


def test_idle_connections_do_not_hold_the_thread_pool(serve: list[ServerProcess]) -> None:
    """A worker only for a connection that is saying something: ten connections that
    only connect, and ten that spoke once and went quiet, all from the address of the
    next client, leave a pool of two workers free for it."""
    server = start_server("square@tcp://127.0.0.1:0", "upper@tcp://127.0.0.1:0",
                          "--model", "thread", "--threads", "2", "--idle-timeout", "300",
                          "--worker-rest", "0.2")
    serve.append(server)
    idle = [connect(server, "upper") for _ in range(20)]
    try:
        for sock in idle[10:]:  # each holds a worker until it has been quiet 0.2 s
            sock.sendall(b"ni\n")
            assert _receive(sock, 3) == b"NI\n"
        with Client(server.address("square"), timeout=10) as client:  # not 300 s
            assert client.request(12) == 144
        for sock in idle:  # every one is served again when it speaks
            sock.sendall(b"ni\n")
            assert _receive(sock, 3) == b"NI\n"
    finally:
        for sock in idle:
            sock.close()
