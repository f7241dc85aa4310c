"""--workers N: pre-forked processes share the sockets; a dead one is replaced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import psutil

from hosepipe import Client, classic
from tests.conftest import run_cli, start_server


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_workers_share_the_sockets_and_are_supervised() -> None:
    server = start_server("square@tcp://127.0.0.1:0", "daytime@udp://127.0.0.1:0",
                          "--workers", "3", "--model", "select")
    parent = psutil.Process(server.process.pid)
    try:
        assert wait_for(lambda: len(parent.children()) == 3)
        for n in range(30):  # every connection is answered, by whichever worker
            with Client(server.address("square")) as client:
                assert client.request(n) == n * n
        assert classic.daytime(server.address("daytime", "udp"))
        victim = parent.children()[0].pid
        os.kill(victim, signal.SIGKILL)  # a worker dies: it is replaced
        assert wait_for(lambda: len(parent.children()) == 3
                        and victim not in {c.pid for c in parent.children()})
        with Client(server.address("square")) as client:
            assert client.request(12) == 144
        children = parent.children()
    finally:
        code = server.stop()
    assert code == 0
    assert all(not psutil.pid_exists(c.pid) for c in children)  # all stopped and reaped
    assert "ended unexpectedly" in server.log()


def test_second_server_on_the_same_port_is_refused() -> None:
    first = start_server("upper@tcp://127.0.0.1:0", "--workers", "2")
    try:
        result = run_cli("serve", "upper@" + first.address("upper"))
        assert result.returncode == 1
        assert "cannot bind" in result.stderr
    finally:
        assert first.stop() == 0
