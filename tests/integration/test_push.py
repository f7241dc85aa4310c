"""Server push through real servers: a chat-room-shaped service under every model that
shares one process, refused where connections do not share one."""

from __future__ import annotations

import selectors
import socket
import time

import psutil
import pytest

from tests.conftest import run_cli, start_server

BROADCAST = "tests.integration.user_services:Broadcast"


def _read_lines(sock: socket.socket, count: int, deadline: float) -> list[bytes]:
    data = b""
    while (have := data.count(b"\n")) < count:
        assert time.monotonic() < deadline, f"only {have} of {count} lines"
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, "closed early"
        data += chunk
    return data.split(b"\n")[:count]


@pytest.mark.parametrize("model", ["thread", "select", "async"])
def test_a_room_of_100_delivers_every_line_in_order(model: str) -> None:
    members, lines = 100, 20
    server = start_server(f"{BROADCAST}@tcp://127.0.0.1:0", "--model", model,
                          "--threads", "128", "--max-per-client", "200")
    host, port = server.address("broadcast")[6:].rsplit(":", 1)
    socks = []
    try:
        deadline = time.monotonic() + 60
        for _ in range(members):
            sock = socket.create_connection((host, int(port)), timeout=10)
            _read_lines(sock, 1, deadline)  # welcome: a member from now on
            socks.append(sock)
        for index, sock in enumerate(socks):
            sock.sendall(b"".join(b"%d:%d\n" % (index, n) for n in range(lines)))
        expected = (members - 1) * lines
        received: dict[int, bytes] = {i: b"" for i in range(members)}
        selector = selectors.DefaultSelector()
        for index, sock in enumerate(socks):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        while any(v.count(b"\n") < expected for v in received.values()):
            assert time.monotonic() < deadline, "deliveries stalled"
            for key, _ in selector.select(1.0):
                chunk = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
                assert chunk, "a member was disconnected"
                received[key.data] += chunk
        selector.close()
        for index, data in received.items():
            got = [line.split(b":") for line in data.split(b"\n")[:-1]]
            assert len(got) == expected
            for sender in range(members):
                if sender == index:
                    continue
                mine = [int(n) for s, n in got if int(s) == sender]
                assert mine == list(range(lines)), (index, sender)  # none lost, duplicated
    finally:
        for sock in socks:
            sock.close()
        assert server.stop() == 0


@pytest.mark.parametrize("args", [["--model", "iterative"], ["--model", "fork"],
                                  ["--workers", "2"]])
def test_shared_state_is_refused_where_connections_do_not_share_a_process(
        args: list[str]) -> None:
    result = run_cli("serve", f"{BROADCAST}@tcp://127.0.0.1:0", *args)
    assert result.returncode == 1, result.stdout
    assert "shares state between connections" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_conversation_that_always_wants_the_pause_does_not_spin() -> None:
    server = start_server("tests.integration.user_services:Dawdler@tcp://127.0.0.1:0",
                          "--model", "select", "--pause", "0.05")
    process = psutil.Process(server.process.pid)
    host, port = server.address("Dawdler")[6:].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"x")
            sock.settimeout(10)
            assert sock.recv(1) == b"p"  # paused() fired once for the quiet period
            before = process.cpu_times()
            started = time.monotonic()
            while time.monotonic() - started < 2.0:  # the peer stays silent
                time.sleep(0.1)
            after = process.cpu_times()
            used = (after.user + after.system) - (before.user + before.system)
            assert used / (time.monotonic() - started) < 0.05
            sock.sendall(b"y")
            assert sock.recv(1) == b"p"  # a new quiet period, one more pause
    finally:
        assert server.stop() == 0
