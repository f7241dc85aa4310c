"""``hosepipe relay``: real peers on both sides (sockets, programs, our stdio), bytes
checked end to end, half-closes carried, memory bounded, the dump read back."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import trustme

from hosepipe.tools.ends import End
from hosepipe.tools.hexdump import format_chunk, hex_lines
from hosepipe.tools.relay import RelayOptions, relay, relay_streams
from tests.conftest import ServerProcess, start_server

MiB = 1024 * 1024
DEADLINE = 60.0


# -- peers ----------------------------------------------------------------------------------

def blocks(seed: int, count: int) -> Iterator[bytes]:
    """``count`` different MiB blocks: a reordering or a lost block changes the hash."""
    rng = random.Random(seed)
    for _ in range(count):
        yield rng.randbytes(MiB)


def digest_of(seed: int, count: int) -> str:
    h = hashlib.sha256()
    for block in blocks(seed, count):
        h.update(block)
    return h.hexdigest()


def read_to_end(sock: socket.socket, limit: int = 1 << 40) -> bytes:
    got = bytearray()
    while len(got) < limit and (data := sock.recv(65536)):
        got += data
    return bytes(got)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        data = sock.recv(size - len(got))
        assert data, f"the stream ended after {bytes(got)!r}"
        got += data
    return bytes(got)


def hash_to_end(sock: socket.socket) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    buf = bytearray(MiB)
    while count := sock.recv_into(buf):
        h.update(memoryview(buf)[:count])
        size += count
    return h.hexdigest(), size


class Server:
    """A listening socket (TCP on 127.0.0.1, or Unix) whose connections run ``handler``
    on threads; ``join`` waits for them and re-raises what they raised."""

    def __init__(self, handler: Callable[[socket.socket], object], *,
                 unix: Path | None = None, connections: int = 1) -> None:
        if unix is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(unix))
            self.address = f"unix://{unix}"
        else:
            self.sock = socket.create_server(("127.0.0.1", 0))
            self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.listen(64)
        self.sock.settimeout(DEADLINE)
        self.results: list[object] = []
        self.errors: list[BaseException] = []
        self.handler = handler
        self.thread = threading.Thread(target=self._serve, args=(connections,))
        self.thread.start()

    def _serve(self, connections: int) -> None:
        workers = []
        try:
            for _ in range(connections):
                conn, _ = self.sock.accept()
                conn.settimeout(DEADLINE)
                worker = threading.Thread(target=self._one, args=(conn,))
                worker.start()
                workers.append(worker)
        except OSError as exc:
            self.errors.append(exc)
        for worker in workers:
            worker.join()

    def _one(self, conn: socket.socket) -> None:
        try:
            with conn:
                self.results.append(self.handler(conn))
        except BaseException as exc:
            self.errors.append(exc)

    def join(self) -> list[object]:
        self.thread.join(DEADLINE)
        self.sock.close()
        assert not self.thread.is_alive(), "the peer did not finish"
        if self.errors:
            raise self.errors[0]
        return self.results


def send_and_hash(seed: int, count: int) -> Callable[[socket.socket], tuple[str, int]]:
    """A peer that sends ``count`` MiB and half-closes, while hashing all it receives."""

    def handler(conn: socket.socket) -> tuple[str, int]:
        def send() -> None:
            for block in blocks(seed, count):
                conn.sendall(block)
            conn.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            return hash_to_end(conn)
        finally:
            sender.join(DEADLINE)

    return handler


def hosepipe(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hosepipe", *args], **kwargs)  # type: ignore[call-overload, no-any-return]


def finish(process: subprocess.Popen[bytes], timeout: float = DEADLINE) -> int:
    try:
        return process.wait(timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


class Listening:
    """A ``hosepipe relay --listen`` process, the address it bound, and (once stopped)
    what it wrote to stderr."""

    def __init__(self, args: tuple[str, ...], log: Path) -> None:
        self.log_path = log
        with log.open("wb") as err:  # a file: a pipe nobody reads would block the relay
            self.process = hosepipe("-q", "relay", "--listen", *args, stdout=subprocess.PIPE,
                                    stderr=err)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("relay "):
            finish(self.process)
            raise AssertionError(f"relay did not start: {line}{log.read_text()}")
        self.address = line.split()[1]
        self.pid = self.process.pid

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        assert finish(self.process) == 0
        return self.log_path.read_text()


@contextlib.contextmanager
def listening_relay(*args: str) -> Iterator[Listening]:
    """``hosepipe relay --listen ARGS``, stopped with SIGTERM at the end."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"relay-{os.getpid()}-{time.monotonic_ns()}.log"
    relay_process = Listening(args, log)
    try:
        yield relay_process
    finally:
        if relay_process.process.poll() is None:
            relay_process.stop()
        log.unlink()


def connect(address: str) -> socket.socket:
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=DEADLINE)
    return sock


@pytest.fixture(scope="module")
def echo_server() -> Iterator[ServerProcess]:
    server = start_server("echo@tcp://127.0.0.1:0", "echo@udp://127.0.0.1:0", "--model", "thread")
    yield server
    assert server.stop() == 0


# -- both ways, unchanged ----------------------------------------------------------------------

@pytest.mark.parametrize("copy", [False, True], ids=["splice", "copy"])
def test_tcp_and_unix_64_mib_each_way_unchanged(tmp_path: Path, copy: bool) -> None:
    tcp_peer = Server(send_and_hash(1, 64))
    unix_peer = Server(send_and_hash(2, 64), unix=tmp_path / "peer.sock")
    process = hosepipe("relay", tcp_peer.address, unix_peer.address,
                       *(["--copy"] if copy else []), stderr=subprocess.PIPE)
    assert finish(process) == 0
    (tcp_got,), (unix_got,) = tcp_peer.join(), unix_peer.join()
    assert unix_got == (digest_of(1, 64), 64 * MiB)
    assert tcp_got == (digest_of(2, 64), 64 * MiB)


def test_stdio_to_tcp_64_mib_through_unchanged(echo_server: ServerProcess) -> None:
    process = hosepipe("relay", "stdio:", echo_server.address("echo"),
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    stdin = process.stdin

    def feed() -> None:
        for block in blocks(3, 64):
            stdin.write(block)
        stdin.close()  # the end of stdin becomes the echo server's end of stream

    feeder = threading.Thread(target=feed)
    feeder.start()
    h, size = hashlib.sha256(), 0
    while data := process.stdout.read1(MiB):
        h.update(data)
        size += len(data)
    feeder.join(DEADLINE)
    assert finish(process) == 0
    assert (h.hexdigest(), size) == (digest_of(3, 64), 64 * MiB)


def test_in_process_relay_moves_bytes_with_splice() -> None:
    peer_a, peer_b = Server(send_and_hash(4, 8)), Server(send_and_hash(5, 8))
    result = relay(peer_a.address, peer_b.address)
    (a_got,), (b_got,) = peer_a.join(), peer_b.join()
    assert (a_got, b_got) == ((digest_of(5, 8), 8 * MiB), (digest_of(4, 8), 8 * MiB))
    assert (result.forward, result.backward, result.reason) == (8 * MiB, 8 * MiB, "ended")
    assert result.spliced == 16 * MiB  # not one byte copied through Python


def test_stdio_to_udp_each_read_a_datagram(echo_server: ServerProcess) -> None:
    process = hosepipe("relay", "--linger", "60", "stdio:", echo_server.address("echo", "udp"),
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"one datagram\n")
    process.stdin.flush()
    assert process.stdout.readline() == b"one datagram\n"
    process.stdin.close()  # a datagram end never ends: --linger (or a signal) ends the relay
    process.send_signal(signal.SIGTERM)
    assert finish(process) == 130


# -- half-close ------------------------------------------------------------------------------

def answer_after_eof(conn: socket.socket) -> bytes:
    """Read until the end of stream, then answer with what came, reversed."""
    data = read_to_end(conn)
    conn.sendall(b"got " + data[::-1])
    return data


def speak_then_read(conn: socket.socket) -> bytes:
    """Send first, half-close, then read the other side's answer to the end."""
    conn.sendall(b"question")
    conn.shutdown(socket.SHUT_WR)
    return read_to_end(conn)


def test_half_close_from_the_client_side(tmp_path: Path) -> None:
    backend = Server(answer_after_eof, unix=tmp_path / "b.sock")
    with listening_relay("tcp://127.0.0.1:0", backend.address) as relay_process:
        address = relay_process.address
        with connect(address) as client:
            client.sendall(b"abc")
            client.shutdown(socket.SHUT_WR)  # still reading: only our side ended
            assert read_to_end(client) == b"got cba"
    assert backend.join() == [b"abc"]


def test_half_close_from_the_server_side(tmp_path: Path) -> None:
    backend = Server(speak_then_read, unix=tmp_path / "b.sock")
    with listening_relay("tcp://127.0.0.1:0", backend.address) as relay_process:
        address = relay_process.address
        with connect(address) as client:
            assert read_to_end(client) == b"question"  # the server's half-close came across
            client.sendall(b"answer")
            client.shutdown(socket.SHUT_WR)
            assert backend.join() == [b"answer"]


def test_tcp_to_exec_shell_pipeline() -> None:
    client = Server(speak_then_read)
    process = hosepipe("relay", client.address, "exec:sh -c 'tr a-z A-Z | sed s/$/!/'")
    assert finish(process) == 0
    assert client.join() == [b"QUESTION!"]  # the pipeline saw our end of stream and ended


# -- listen ----------------------------------------------------------------------------------

def test_listen_relays_50_connections_at_once(tmp_path: Path) -> None:
    backend = start_server(f"upper@unix://{tmp_path}/upper.sock", "--model", "select")
    together = threading.Barrier(50, timeout=DEADLINE)
    answers: dict[int, bytes] = {}

    def client(n: int, address: str) -> None:
        with connect(address) as sock:
            sock.sendall(b"client %d\n" % n)
            reply = bytearray()
            while not reply.endswith(b"\n") and (data := sock.recv(100)):
                reply += data
            together.wait()  # all 50 relayed at the same time, or none gets past here
            sock.shutdown(socket.SHUT_WR)
            answers[n] = bytes(reply) + read_to_end(sock)

    try:
        with listening_relay("tcp://127.0.0.1:0", backend.address("upper", "unix")) as relayed:
            addr = relayed.address
            threads = [threading.Thread(target=client, args=(n, addr)) for n in range(50)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(DEADLINE)
    finally:
        assert backend.stop() == 0
    assert answers == {n: b"CLIENT %d\n" % n for n in range(50)}


def test_listen_refuses_connections_over_max_connections(echo_server: ServerProcess) -> None:
    with listening_relay("tcp://127.0.0.1:0", echo_server.address("echo"),
                         "--max-connections", "2") as relay_process:
        address = relay_process.address
        held = [connect(address) for _ in range(2)]
        for n, sock in enumerate(held):  # both relayed: each gets its echo
            sock.sendall(b"%d" % n)
            assert read_exactly(sock, 1) == b"%d" % n
        with connect(address) as third:
            assert read_to_end(third) == b""  # accepted and closed at once
        held.pop().close()
        deadline = time.monotonic() + DEADLINE  # the freed place is given to the next
        while True:
            with connect(address) as again, contextlib.suppress(OSError):
                again.sendall(b"x")  # refused (reset) while the old relay is still ending
                again.shutdown(socket.SHUT_WR)
                if read_to_end(again) == b"x":
                    break
            assert time.monotonic() < deadline, "the freed connection was never reused"
        held.pop().close()
        assert "max_connections is 2" in relay_process.stop()


@pytest.mark.parametrize(("grace", "answer"), [("60", b"got cba"), ("0", b"")])
def test_sigterm_gives_relays_in_flight_their_grace(tmp_path: Path, grace: str,
                                                    answer: bytes) -> None:
    relayed_once = threading.Event()

    def backend_handler(conn: socket.socket) -> None:
        relayed_once.set()
        with contextlib.suppress(ConnectionError):  # with no grace, the relay is gone
            answer_after_eof(conn)

    backend = Server(backend_handler, unix=tmp_path / "b.sock")
    with listening_relay("tcp://127.0.0.1:0", backend.address, "--grace", grace) as relayed:
        with connect(relayed.address) as client:
            client.sendall(b"abc")
            assert relayed_once.wait(DEADLINE)  # the relay holds the connection both ways
            relayed.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + DEADLINE
            while True:  # the listener closes at once
                try:
                    connect(relayed.address).close()
                except ConnectionError:  # refused; or reset, by a relay on its way out
                    break
                assert time.monotonic() < deadline, "still accepting after SIGTERM"
            with contextlib.suppress(OSError):  # with no grace, the relay is already gone
                client.shutdown(socket.SHUT_WR)
            assert read_to_end(client) == answer
        assert finish(relayed.process) == 0
    backend.join()


def test_one_failed_connection_does_not_end_the_listener(tmp_path: Path) -> None:
    path = tmp_path / "later.sock"
    with listening_relay("tcp://127.0.0.1:0", f"unix://{path}") as relay_process:
        address = relay_process.address
        with connect(address) as first:
            assert read_to_end(first) == b""  # nothing at B yet: closed
        backend = Server(answer_after_eof, unix=path)
        with connect(address) as second:
            second.sendall(b"ok")
            second.shutdown(socket.SHUT_WR)
            assert read_to_end(second) == b"got ko"
        backend.join()


def test_listen_tls_in_front_and_tls_client_side(echo_server: ServerProcess,
                                                 tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem"))
    with listening_relay("tls://127.0.0.1:0", echo_server.address("echo"),
                         "--cert", str(tmp_path / "server.pem")) as relay_process:
        address = relay_process.address
        port = address.rsplit(":", 1)[1]
        process = hosepipe("relay", "stdio:", f"tls://127.0.0.1:{port}",
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           env={**os.environ, "HOSEPIPE_TLS_CA": str(tmp_path / "ca.pem")})
        out, _ = process.communicate(b"secret words\n", timeout=DEADLINE)
        assert finish(process) == 0
    assert out == b"secret words\n"


# -- limits: buffer, linger, idle ------------------------------------------------------------

def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


@pytest.mark.parametrize("copy", [False, True], ids=["splice", "copy"])
def test_a_slow_reader_does_not_grow_the_relay(copy: bool) -> None:
    total = 96 * MiB
    stalled = threading.Event()
    sent = [0]

    def flood(conn: socket.socket) -> None:
        conn.setblocking(False)
        view = memoryview(bytes(MiB))
        while sent[0] < total:
            if not select.select([], [conn], [], 1.0)[1]:
                stalled.set()  # a second with no room: the relay stopped reading
                select.select([], [conn], [], DEADLINE)
                continue
            with contextlib.suppress(BlockingIOError):
                sent[0] += conn.send(view[: min(MiB, total - sent[0])])
        conn.setblocking(True)
        conn.shutdown(socket.SHUT_WR)

    source = Server(flood)
    with listening_relay("tcp://127.0.0.1:0", source.address, "--buffer", "256KiB",
                         *(["--copy"] if copy else [])) as relay_process:
        with connect(relay_process.address) as reader:
            before = rss(relay_process.pid)
            assert stalled.wait(DEADLINE), "the source never stalled"
            grown = rss(relay_process.pid) - before
            assert sent[0] < total  # it stalled before the end: the reader set the pace
            received = 0
            while chunk := reader.recv(MiB):
                assert chunk.count(0) == len(chunk)
                received += len(chunk)
            assert received == total
        source.join()
    assert grown < 16 * MiB, f"the relay grew by {grown} bytes while its reader slept"


def test_linger_ends_a_relay_whose_other_side_never_ends() -> None:
    released = threading.Event()

    def never_closes(conn: socket.socket) -> None:
        data = read_to_end(conn)
        conn.sendall(data.upper())
        released.wait(DEADLINE)  # keeps its side open until the relay has returned

    a_client, a_relay = socket.socketpair()
    backend = Server(never_closes)
    with a_client:
        b = socket.create_connection(("127.0.0.1", int(backend.address.rsplit(":", 1)[1])))
        a_client.sendall(b"linger")
        a_client.shutdown(socket.SHUT_WR)
        result = relay_streams(a_relay, b, RelayOptions(linger=0.2))
        released.set()
        assert read_to_end(a_client) == b"LINGER"
    backend.join()
    assert (result.reason, result.forward, result.backward) == ("linger", 6, 6)


def test_idle_timeout_ends_a_silent_relay() -> None:
    a, a_peer = socket.socketpair()
    b, b_peer = socket.socketpair()
    with a_peer, b_peer:
        result = relay_streams(a, b, RelayOptions(idle_timeout=0.2))
        assert read_to_end(a_peer) == b"" and read_to_end(b_peer) == b""
    assert result.reason == "idle"


def test_stop_fd_ends_a_relay_at_once() -> None:
    a, a_peer = socket.socketpair()
    b, b_peer = socket.socketpair()
    stop_r, stop_w = os.pipe()
    os.write(stop_w, b"x")
    with a_peer, b_peer:
        result = relay_streams(End("a", sock=a), End("b", sock=b), stop_fd=stop_r)
    os.close(stop_r)
    os.close(stop_w)
    assert result.reason == "stopped"


# -- the dump --------------------------------------------------------------------------------

def test_dump_shows_both_directions_and_a_closing_line(echo_server: ServerProcess) -> None:
    payload = b"hello\x00\xffworld, and some more bytes\n"
    process = hosepipe("relay", "-x", "stdio:", echo_server.address("echo"),
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(payload, timeout=DEADLINE)
    assert finish(process) == 0
    assert out == payload
    text = err.decode()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"
    assert re.search(rf"^> {stamp} \d+ bytes at 0$", text, re.M)
    assert re.search(rf"^< {stamp} \d+ bytes at 0$", text, re.M)
    assert "  00000000  68 65 6c 6c 6f 00 ff 77  6f 72 6c 64 2c 20 61 6e  |hello..world, an|" \
        in text
    assert re.search(rf"^= {stamp} closed: > {len(payload)} bytes, < {len(payload)} bytes, "
                     r"\d+\.\d{3} s$", text, re.M)


def test_hex_lines_and_chunk_format() -> None:
    assert hex_lines(b"ab", 16) == ["  00000010  61 62" + " " * 44 + " |ab|"]
    block = format_chunk("<", bytes(range(20)), 100, when=0.0, connection=7)
    head, first, second = block.splitlines()
    assert head.startswith("< ") and head.endswith(" #7 20 bytes at 100")
    assert first.startswith("  00000064  00 01 02 03 04 05 06 07  08 09")
    assert second.startswith("  00000074  10 11 12 13") and second.endswith("|....|")


# -- errors ----------------------------------------------------------------------------------

def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def test_connect_timeout_bounds_a_connection_that_never_completes() -> None:
    full = socket.create_server(("127.0.0.1", 0), backlog=0)  # a queue of one, never accepted
    filler = socket.create_connection(full.getsockname(), timeout=30)  # taken: SYNs dropped
    try:
        process = hosepipe("relay", "--connect-timeout", "0.5", "stdio:",
                           f"tcp://127.0.0.1:{full.getsockname()[1]}", stdin=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        _, err = process.communicate(timeout=DEADLINE)
        assert finish(process) == 1
    finally:
        filler.close()
        full.close()
    assert b"hosepipe: error: cannot connect to tcp://127.0.0.1:" in err
    assert b"timed out" in err


@pytest.mark.parametrize(("args", "status", "message"), [
    (["stdio:", "tcp://127.0.0.1:{closed}"], 1, "cannot connect to tcp://127.0.0.1:{closed}"),
    (["stdio:", "nonsense"], 2, "is not an address"),
    (["--listen", "udp://127.0.0.1:0", "stdio:"], 2, "--listen takes a tcp://"),
    (["--buffer", "10", "stdio:", "stdio:"], 2, "--buffer must be at least"),
    (["--listen", "--max-connections", "0", "tcp://127.0.0.1:0", "stdio:"], 2,
     "--max-connections must be at least 1"),
    (["--listen", "tls://127.0.0.1:0", "stdio:"], 2, "needs --cert"),
])
def test_bad_input_is_a_clear_error(args: list[str], status: int, message: str) -> None:
    """A usage error exits 2; one that needed the network to show up, 1."""
    port = closed_port()
    process = hosepipe("relay", *[a.format(closed=port) for a in args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = process.communicate(timeout=DEADLINE)
    assert finish(process) == status
    assert err.decode().startswith("hosepipe: error: ")
    assert message.format(closed=port) in err.decode()


# -- the relay as a service of the superserver -----------------------------------------------

def test_serve_runs_relay_bindings_beside_other_services(tmp_path: Path) -> None:
    backend = Server(answer_after_eof, unix=tmp_path / "b.sock", connections=2)
    server = start_server(f"relay:{backend.address}@tcp://127.0.0.1:0",
                          "echo@tcp://127.0.0.1:0")
    try:
        for _ in range(2):  # two connections, each relayed to its own new one
            with connect(server.address("relay")) as client:
                client.sendall(b"xyz")
                client.shutdown(socket.SHUT_WR)
                assert read_to_end(client) == b"got zyx"
        with connect(server.address("echo")) as echo:
            echo.sendall(b"still here\n")
            assert read_exactly(echo, 11) == b"still here\n"
    finally:
        assert server.stop() == 0
    assert backend.join() == [b"xyz", b"xyz"]


def test_serve_refuses_a_handed_over_service_on_tls(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "hosepipe", "serve",
                             "relay:tcp://127.0.0.1:9@tls://127.0.0.1:0"],
                            capture_output=True, text=True, timeout=DEADLINE, check=False)
    assert result.returncode != 0
    assert "cannot serve tls://" in result.stderr


def test_listen_max_per_client_closes_the_extra_connection(echo_server: ServerProcess) -> None:
    with listening_relay("tcp://127.0.0.1:0", echo_server.address("echo"),
                         "--max-per-client", "1") as relay_process:
        with connect(relay_process.address) as first:
            first.sendall(b"1")
            assert read_exactly(first, 1) == b"1"  # relayed
            with connect(relay_process.address) as second:
                assert read_to_end(second) == b""  # 127.0.0.1 has its one: closed at once
        assert "max_per_client is 1" in relay_process.stop()


def test_listen_with_workers_relays_from_each(tmp_path: Path) -> None:
    count = 20
    backend = Server(answer_after_eof, unix=tmp_path / "b.sock", connections=count)
    with listening_relay("tcp://127.0.0.1:0", backend.address, "--workers", "2") as relayed:
        for n in range(count):
            with connect(relayed.address) as client:
                client.sendall(b"%d" % n)
                client.shutdown(socket.SHUT_WR)
                assert read_to_end(client) == b"got " + (b"%d" % n)[::-1]
        children = psutil.Process(relayed.pid).children()
        assert len(children) == 2  # the pre-forked processes
    backend.join()
