"""SIGTERM/SIGINT over the whole life of ``hosepipe serve`` (issue #10, item 1).

The handlers are installed before the binding lines are printed and kept until the
process exits: a signal right after readiness stops the server cleanly, and a second
signal during shutdown cuts the grace period short -- still exit 0, socket files
removed, children reaped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ServerProcess, start_server

MODELS = ["iterative", "thread", "fork", "select", "async"]


def _log_so_far(server: ServerProcess) -> str:
    assert server.log_file is not None
    return os.pread(server.log_file.fileno(), 1 << 20, 0).decode(errors="replace")


def _wait_for_log(server: ServerProcess, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in _log_so_far(server):
        assert time.monotonic() < deadline, f"{text!r} not logged in {timeout} s"
        time.sleep(0.02)


def _in_flight(path: Path) -> socket.socket:
    """A connection to the echo server at ``path`` whose conversation is in flight (it
    has echoed a byte)."""
    held = socket.socket(socket.AF_UNIX)
    held.connect(str(path))
    held.sendall(b"x")
    held.settimeout(10)
    assert held.recv(1) == b"x"
    return held


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_right_after_readiness_stops_cleanly(model: str, signum: int,
                                                      tmp_path: Path) -> None:
    for attempt in range(3):
        path = tmp_path / f"s{attempt}.sock"
        server = start_server(f"upper@unix://{path}", "--model", model)
        server.process.send_signal(signum)  # the moment its readiness is read
        assert server.stop(timeout=30) == 0, server.log()
        assert not path.exists()


def test_workers_stop_cleanly_on_a_signal_right_after_readiness(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    server = start_server(f"upper@unix://{path}", "--workers", "2")
    parent = psutil.Process(server.process.pid)
    server.process.send_signal(signal.SIGTERM)
    assert server.stop(timeout=30) == 0, server.log()
    assert not path.exists()
    assert not parent.is_running() or parent.status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("model", MODELS)
def test_a_second_signal_cuts_the_grace_period_and_still_exits_cleanly(
        model: str, tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    server = start_server(f"echo@unix://{path}", "--model", model, "--grace", "600")
    with _in_flight(path) as held:
        server.process.send_signal(signal.SIGTERM)
        _wait_for_log(server, "stopping gracefully")
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(60)  # not stop(): a third signal is not what is tested here
        code = server.stop()
        assert code == 0, server.log()
        assert time.monotonic() - started < 60  # not the 600 s grace period
        assert held.recv(10) == b""  # cut
    assert "cutting the grace period short" in server.log()
    assert not path.exists()


@pytest.mark.parametrize("model", ["thread", "async"])
def test_signals_that_keep_coming_until_the_process_is_gone_never_kill_it(
        model: str, tmp_path: Path) -> None:
    # A supervisor that keeps signalling: the last signals land while the interpreter
    # finalizes, after "stopped", when Python would have put the default handlers back
    # (it leaves an ignored signal ignored) and worker threads still run.
    path = tmp_path / "k.sock"
    server = start_server(f"echo@unix://{path}", "--model", model, "--grace", "600")
    with _in_flight(path):
        pid = server.process.pid
        # bounded: the loop ends when the server is gone, or after 20,000 signals
        signaller = subprocess.Popen(
            ["sh", "-c", f"i=0; while [ $i -lt 20000 ] && kill -TERM {pid} 2>/dev/null;"
                         " do i=$((i+1)); done"])
        try:
            code = server.process.wait(60)
        finally:
            signaller.kill()
            signaller.wait()
        assert code == 0, server.log()
    assert "stopped" in server.log()
    assert not path.exists()
