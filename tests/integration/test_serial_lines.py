"""Serial lines beyond the services: the settings as the kernel has them, 10 MiB of
random bytes through echo, a device unplugged and plugged back while served, the errors
a user meets, and pySerial's URL handlers (loop://, socket://) in both roles."""

from __future__ import annotations

import grp
import os
import socket
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosepipe import Client
from hosepipe.errors import ConnectError
from hosepipe.transports.base import Stream
from hosepipe.transports.connect import connect_stream
from tests.conftest import ServerProcess, run_cli, start_server
from tests.integration.test_fifo import as_nobody, server_log, wait_for
from tests.lines import SocatLine

DEADLINE = 60.0


@pytest.fixture
def pty() -> Iterator[str]:
    """A pseudo-terminal's slave device; its master is held open meanwhile."""
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(slave)
    os.close(master)


@pytest.fixture
def line(tmp_path: Path) -> Iterator[SocatLine]:
    socat = SocatLine(tmp_path)
    yield socat
    socat.close()


def receive_exactly(stream: Stream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        got = stream.receive_some(DEADLINE)
        assert got, f"the line hung up after {len(data)} of {size} bytes"
        data += got
    return bytes(data)


@pytest.mark.parametrize(("query", "expected"), [
    ("", dict(speed=termios.B9600, odd=0, stop=0, rtscts=0, ixon=0)),
    ("?baudrate=115200&bytesize=7&parity=E&stopbits=2&rtscts=1&xonxoff=1",
     dict(speed=termios.B115200, odd=0, stop=termios.CSTOPB, rtscts=termios.CRTSCTS,
          ixon=termios.IXON | termios.IXOFF)),
    ("?baudrate=1200&bytesize=5&parity=odd",
     dict(speed=termios.B1200, odd=termios.PARODD, stop=0, rtscts=0, ixon=0)),
])
def test_the_kernel_has_the_address_settings(pty: str, query: str,
                                             expected: dict[str, int]) -> None:
    with connect_stream(f"serial://{pty}{query}") as stream:
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(stream.read_fd)
    assert ispeed == ospeed == expected["speed"]
    # a pty keeps 8 bits and no parity whatever it is told (the kernel's pty_set_termios
    # puts CS8 back and clears PARENB); the odd-parity bit and the rest stay as set
    assert (cflag & termios.CSIZE, cflag & termios.PARENB) == (termios.CS8, 0)
    assert cflag & termios.PARODD == expected["odd"]
    assert cflag & termios.CSTOPB == expected["stop"]
    assert cflag & termios.CRTSCTS == expected["rtscts"]
    assert iflag & (termios.IXON | termios.IXOFF) == expected["ixon"]
    # raw: no echo, no line editing, no signals, no newline translation either way
    assert lflag & (termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN) == 0
    assert oflag & termios.OPOST == 0
    assert iflag & (termios.ICRNL | termios.INLCR | termios.IGNCR | termios.ISTRIP) == 0
    assert (cc[termios.VMIN], cc[termios.VTIME]) == (1, 0)


CHUNK, WINDOW = 16 * 1024, 64 * 1024  # the sender keeps at most WINDOW bytes unanswered


def test_ten_mebibytes_of_random_bytes_through_echo(line: SocatLine) -> None:
    """Every byte comes back, in order. The sender stays at most WINDOW bytes ahead of
    the echo, well under the server's high water (256 KiB): socat relays both directions
    in one thread with blocking writes, so a sender running ahead lets the server's
    output fill up while socat is blocked writing towards it; the server then stops
    reading (its backpressure, as it must) and socat never gets back to reading the echo.
    That deadlock is the bench's (it showed on a loaded machine), not a serial line's,
    whose two directions are independent."""
    server = start_server(f"echo@serial://{line.a}?baudrate=115200", "--model", "select")
    payload = os.urandom(10 * 1024 * 1024)
    received = bytearray()
    progress = threading.Condition()
    try:
        with connect_stream(f"serial://{line.b}?baudrate=115200") as stream:

            def send() -> None:
                for start in range(0, len(payload), CHUNK):
                    with progress:
                        if not progress.wait_for(
                                lambda s=start: len(received) >= s + CHUNK - WINDOW, DEADLINE):
                            return  # the reader failed, and says why
                    stream.send_all(payload[start:start + CHUNK], DEADLINE)

            writer = threading.Thread(target=send)
            writer.start()
            try:
                while len(received) < len(payload):
                    got = stream.receive_some(DEADLINE)
                    assert got, f"the line hung up after {len(received)} bytes"
                    with progress:
                        received += got
                        progress.notify()
            finally:
                writer.join(DEADLINE)
        assert received == payload
    finally:
        assert server.stop() == 0, server.log()


def echo_once(address: str, text: bytes) -> bytes:
    with connect_stream(address, timeout=DEADLINE) as stream:
        stream.send_all(text, DEADLINE)
        return receive_exactly(stream, len(text))


@pytest.mark.parametrize("model", ["thread", "select", "async", "fork"])
def test_the_far_end_closing_reopening_unplugged_and_back(line: SocatLine,
                                                          model: str) -> None:
    server = start_server(f"upper@serial://{line.a}?retry=0.2", "--model", model)
    far = f"serial://{line.b}"
    try:
        assert echo_once(far, b"first\n") == b"FIRST\n"
        assert echo_once(far, b"again\n") == b"AGAIN\n"  # the far end closed and reopened
        line.close()  # unplugged: the server's line hangs up
        wait_for(lambda: "no such device" in server_log(server), "the server to notice",
                 DEADLINE)
        line.start()  # plugged back under the same name
        assert echo_once(far, b"back\n") == b"BACK\n"
        assert server.process.poll() is None
    finally:
        assert server.stop() == 0, server.log()


def test_errors_a_user_meets_are_one_line(pty: str, tmp_path: Path) -> None:
    def error_of(address: str) -> tuple[int, str]:
        result = run_cli("upper", "-a", address, "x", "-t", "5")
        return result.returncode, result.stderr.strip()

    assert error_of("serial:///dev/hosepipe-none") == (
        1, "hosepipe: error: no such device: /dev/hosepipe-none")
    assert error_of("serial:///dev/null") == (
        1, "hosepipe: error: not a serial device: /dev/null")
    assert error_of(f"serial://{pty}?baudrate=4000000000")[1].startswith(
        f"hosepipe: error: cannot open {pty}: unsupported baud rate 4000000000")
    assert error_of("serial:///dev/x?parity=Q") == (
        2, "hosepipe: error: 'serial:///dev/x?parity=Q': parity='Q': expected N, E, O, M "
        "or S")
    with connect_stream(f"serial://{pty}"):  # exclusive by default: a flock
        assert error_of(f"serial://{pty}") == (
            1, f"hosepipe: error: device busy: {pty} is open in another program "
            "(exclusive=1)")
        assert error_of(f"serial://{pty}?exclusive=0")[0] == 1  # shared: opens, then
        # times out waiting for an upper server that is not there


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_permission_denied_names_the_group(pty: str) -> None:
    def call() -> str:
        with connect_stream(f"serial://{pty}"):
            return "opened"

    group = grp.getgrgid(os.stat(pty).st_gid).gr_name  # tty, or root in some containers
    os.chmod(pty, 0o620)  # as a login's terminal is: its group may write, others nothing
    outcome = as_nobody(call)
    assert outcome == (f"ConnectError: permission denied: {pty} is for group {group!r} "
                       f"(join it: sudo usermod -aG {group} $USER, then log in again)")


def test_the_message_protocol_over_a_loop() -> None:
    """loop:// gives back what is written: raw frames come back as they went."""
    values = [0, "knights", b"\x00\xff" * 1000, {"a": [1, 2.5, None]}, os.urandom(300_000)]
    with Client("serial:loop://", raw=True, codec="msgpack") as client:
        for value in values:
            assert client.request(value) == value


@pytest.fixture
def tcp_upper() -> Iterator[ServerProcess]:
    server = start_server("upper@tcp://127.0.0.1:0", "--model", "thread")
    yield server
    assert server.stop() == 0, server.log()


def test_a_client_through_a_socket_url(tcp_upper: ServerProcess) -> None:
    port = tcp_upper.address("upper", "tcp").rsplit(":", 1)[1]
    with Client(f"serial:socket://127.0.0.1:{port}") as client:
        assert client.request("knights") == "KNIGHTS"
    result = run_cli("upper", "-a", f"serial:socket://127.0.0.1:{port}", "who say ni")
    assert (result.returncode, result.stdout) == (0, "WHO SAY NI\n"), result.stderr


@pytest.mark.parametrize("model", ["select", "async", "thread"])
def test_serving_a_socket_url(model: str) -> None:
    """A device server (ser2net and the like) reached as serial:socket://: the server
    dials it and serves the line, on a thread of its own under the loop models."""
    device = socket.create_server(("127.0.0.1", 0))
    port = device.getsockname()[1]
    server = start_server(f"upper@serial:socket://127.0.0.1:{port}", "--model", model)
    try:
        device.settimeout(DEADLINE)
        conn, _ = device.accept()
        with conn:
            conn.settimeout(DEADLINE)
            conn.sendall(b"knights\n")
            reply = b""
            while not reply.endswith(b"\n"):
                got = conn.recv(100)
                assert got, "the server hung up"
                reply += got
        assert reply == b"KNIGHTS\n"
    finally:
        device.close()
        assert server.stop() == 0, server.log()


def test_an_unreachable_url_is_a_connect_error() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now
    with pytest.raises(ConnectError, match="cannot open serial:socket://"):
        connect_stream(f"serial:socket://127.0.0.1:{port}")


def test_daytime_and_time_clients_take_one_reply_from_a_line(tmp_path: Path) -> None:
    """A service that speaks and closes speaks again at each re-arm (every retry=0.2 s);
    the client commands take one reply, not the end that a line never has."""
    clocks = {name: SocatLine(tmp_path, name) for name in ("daytime", "time")}
    server = start_server(*(f"{name}@serial://{line.a}?retry=0.2"
                            for name, line in clocks.items()))
    try:
        said = run_cli("daytime", "-a", f"serial://{clocks['daytime'].b}")
        assert said.returncode == 0, said.stderr
        stamp = time.mktime(time.strptime(said.stdout.strip(), "%a %b %d %H:%M:%S %Y"))
        assert abs(stamp - time.time()) < 60
        told = run_cli("time", "-a", f"serial://{clocks['time'].b}")
        assert told.returncode == 0 and told.stdout.strip(), told.stderr
    finally:
        assert server.stop() == 0, server.log()
        for line in clocks.values():
            line.close()
