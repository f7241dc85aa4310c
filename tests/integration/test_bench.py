"""``hosepipe bench``: against real servers under every model, counts and percentiles
sane, a stall seen through the open loop, Ctrl-C, the plot, and bad input."""

from __future__ import annotations

import json
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosepipe.errors import ConnectError, UsageError
from hosepipe.servers import MODELS
from hosepipe.tools.bench import BenchOptions, bench
from tests.conftest import ServerProcess, run_cli, start_server

DEADLINE = 60.0


def sane(run: dict[str, object], requests: int) -> None:
    """Every request answered, none failed, percentiles in order."""
    latency = run["latency_us"]
    assert isinstance(latency, dict)
    assert (run["requests"], run["errors"]) == (requests, 0), run
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"], run


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerProcess]:
    server = start_server("echo@tcp://127.0.0.1:0", "square@tcp://127.0.0.1:0",
                          "upper@tcp://127.0.0.1:0", "--model", "select")
    yield server
    assert server.stop() == 0


# -- every model -------------------------------------------------------------------------------

def test_echo_under_every_model_as_json() -> None:
    result = run_cli("bench", "--models", ",".join(MODELS), "--service", "echo",
                     "-c", "2", "-n", "200", "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [run["label"] for run in runs] == list(MODELS)
    for run in runs:
        sane(run, 200)


def test_square_under_every_model_in_one_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a table row per model, no cell cut short
    result = run_cli("bench", "--models", ",".join(MODELS), "--service", "square",
                     "-c", "2", "-n", "100", timeout=240)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == list(MODELS)
    for row in rows:
        cells = [cell.strip() for cell in row.split("│")[2:-1]]
        clients, requests, errors = cells[:3]
        p50, p90, p99, p999, top = (float(c) for c in cells[4:])
        assert (clients, requests, errors) == ("2", "100", "0")
        assert p50 <= p90 <= p99 <= p999 <= top


# -- one server, the library -------------------------------------------------------------------

@pytest.mark.parametrize("service", ["echo", "upper", "square"])
def test_classic_services_with_processes(servers: ServerProcess, service: str) -> None:
    result = bench(servers.address(service), BenchOptions(service=service, clients=3,
                                                          requests=300, size=100))
    sane(result.to_json(), 300)
    assert result.throughput > 0


def test_threads_and_a_message_service(servers: ServerProcess) -> None:
    result = bench(servers.address("square"), BenchOptions(service="square", clients=2,
                                                           requests=100, payload="12",
                                                           threads=True))
    sane(result.to_json(), 100)


def test_a_wrong_reply_is_an_error_not_a_fast_request(servers: ServerProcess) -> None:
    with pytest.raises(ConnectError, match="no request was answered: ProtocolError"):
        bench(servers.address("upper"), BenchOptions(service="echo", clients=1, requests=5))


# -- the open loop sees a stall ----------------------------------------------------------------

class _Stalling(socketserver.StreamRequestHandler):
    """Echoes lines; the 20th line overall waits a second before its answer."""

    lines = 0
    lock = threading.Lock()

    def handle(self) -> None:
        self.request.settimeout(DEADLINE)
        for line in self.rfile:
            with self.lock:
                type(self).lines += 1
                stall = type(self).lines == 20
            if stall:
                time.sleep(1.0)  # the stall being measured, not a synchronisation
            self.wfile.write(line)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True


@pytest.fixture
def stalling() -> Iterator[str]:
    _Stalling.lines = 0
    server = _Server(("127.0.0.1", 0), _Stalling)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_rate_shows_a_stall_in_p99(stalling: str) -> None:
    # 100 requests/s for 3 s: the ~100 requests due during the 1 s stall each wait for
    # it, from when they should have been sent: a third of the run is slow
    result = bench(stalling, BenchOptions(clients=1, rate=100, duration=3, threads=True))
    assert result.errors == 0 and result.requests >= 250
    assert result.percentile(99) >= 500_000  # microseconds: the stall, not one request
    assert result.percentile(50) <= result.percentile(99) <= result.max_us


# -- the command line --------------------------------------------------------------------------

def test_cli_table_plot_and_png(servers: ServerProcess, tmp_path: Path) -> None:
    result = run_cli("bench", servers.address("echo"), "-c", "2", "-n", "200")
    assert result.returncode == 0, result.stderr
    assert "latency by percentile" in result.stdout and "99.99%" in result.stdout
    png = tmp_path / "latency.png"
    result = run_cli("bench", servers.address("echo"), "-c", "2", "-n", "200",
                     "--plot", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ctrl_c_prints_what_was_measured(stalling: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "hosepipe", "bench", stalling, "-c", "2",
                                "-d", "120", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + DEADLINE
    while _Stalling.lines < 50:  # the run is under way
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 130, err
    (run,) = json.loads(out)
    assert run["interrupted"] is True and run["requests"] > 0 and run["errors"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--service", "book"], "--service book needs --payload"),
    (["--payload", "{nope"], "--payload is not JSON"),
    (["--models", "iterative,turbo"], "--models: unknown turbo"),
    (["--size", "0"], "--size must be at least 1"),
    (["-c", "0"], "-c/--clients must be at least 1"),
    (["-n", "2", "-c", "4"], "must be at least the number of clients"),
])
def test_cli_bad_input(servers: ServerProcess, args: list[str], message: str) -> None:
    address = [] if "--models" in args else [servers.address("echo")]
    result = run_cli("bench", *address, *args)
    assert result.returncode == 2  # usage errors
    assert result.stderr.startswith("hosepipe: error: ") and message in result.stderr


def test_timeout_bounds_a_reply_that_never_comes() -> None:
    mute = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody answers
    try:
        with pytest.raises(ConnectError, match="no request was answered: Timeout"):
            bench(f"tcp://127.0.0.1:{mute.getsockname()[1]}",
                  BenchOptions(clients=1, requests=1, timeout=0.3, threads=True))
    finally:
        mute.close()


def test_cli_address_or_models_and_nothing_listening() -> None:
    assert "give an ADDRESS, or --models" in run_cli("bench").stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("bench", f"127.0.0.1:{port}", "-c", "2", "-n", "2")
    assert result.returncode == 1
    assert "no request was answered" in result.stderr and "refused" in result.stderr
    with pytest.raises(UsageError, match="stream services"):
        bench(f"udp://127.0.0.1:{port}")
