"""Clients nobody here wrote: OpenBSD netcat, Debian's rdate, a tutorial-style script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosepipe.services.square import GREETING
from tests.conftest import ServerProcess, start_server

pytestmark = pytest.mark.interop

NC = shutil.which("nc")
RDATE = shutil.which("rdate") or ("/usr/sbin/rdate" if Path("/usr/sbin/rdate").exists() else None)
needs_nc = pytest.mark.skipif(NC is None, reason="netcat-openbsd missing (.ci/run installs it)")
needs_rdate = pytest.mark.skipif(RDATE is None, reason="rdate missing (.ci/run installs it)")


@pytest.fixture(scope="module", params=["thread", "select", "async", "fork"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("interop")
    srv = start_server(
        "echo@tcp://127.0.0.1:0", "square@tcp://127.0.0.1:0", "upper@tcp://127.0.0.1:0",
        f"upper@unix://{directory}/upper.sock",
        "time@tcp://127.0.0.1:0", "time@udp://127.0.0.1:0", "--model", request.param,
    )
    yield srv
    assert srv.stop() == 0


def port_of(address: str) -> str:
    return address.rsplit(":", 1)[1]


def netcat(data: bytes, *args: str) -> bytes:
    assert NC is not None
    result = subprocess.run([NC, "-N", *args], input=data, capture_output=True, timeout=20,
                            check=True)
    return result.stdout


@needs_nc
def test_netcat_echo(server: ServerProcess) -> None:
    out = netcat(b"hello\r\nworld\n", "127.0.0.1", port_of(server.address("echo")))
    assert out == b"hello\r\nworld\n"


@needs_nc
def test_netcat_square(server: ServerProcess) -> None:
    out = netcat(b"Hi there!\n3\n-12\n99999999999\nabc\n", "127.0.0.1",
                 port_of(server.address("square")))
    lines = out.decode().splitlines()
    assert lines[:4] == [GREETING, "9", "144", "9999999999800000000001"]
    assert lines[4].startswith("error: ")


@needs_nc
def test_netcat_upper_with_crlf_and_a_last_line_without_newline(server: ServerProcess) -> None:
    out = netcat(b"knights\r\nwho say\nni", "127.0.0.1", port_of(server.address("upper")))
    assert out == b"KNIGHTS\r\nWHO SAY\nNI"


@needs_nc
def test_netcat_over_a_unix_socket(server: ServerProcess) -> None:
    path = server.address("upper", "unix")[len("unix://"):]
    assert netcat(b"shrubbery\n", "-U", path) == b"SHRUBBERY\n"


def rdate_time(*args: str) -> float:
    assert RDATE is not None
    result = subprocess.run([RDATE, "-p", *args], capture_output=True, text=True, timeout=20,
                            check=True)
    # "rdate: [127.0.0.1]\tSat Nov 21 10:00:00 2026" or "Sat Nov 21 10:00:00 UTC 2026"
    match = re.search(r"(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d)(?: \w+)? (\d{4})", result.stdout)
    assert match, result.stdout
    parsed = time.strptime(f"{match[1]} {match[2]}", "%a %b %d %H:%M:%S %Y")
    return time.mktime(parsed)


@needs_rdate
def test_rdate_tcp(server: ServerProcess) -> None:
    assert abs(rdate_time("-o", port_of(server.address("time")), "127.0.0.1") - time.time()) < 5


@needs_rdate
def test_rdate_udp(server: ServerProcess) -> None:
    port = port_of(server.address("time", "udp"))
    assert abs(rdate_time("-u", "-o", port, "127.0.0.1") - time.time()) < 5


def test_tutorial_script_sends_bare_numbers(server: ServerProcess) -> None:
    script = Path(__file__).with_name("bare_square_client.py")
    result = subprocess.run(
        [sys.executable, str(script), port_of(server.address("square")), "3", "-12", "x", "7"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[:3] == [GREETING, "9", "144"]
    assert lines[3].startswith("error: not an integer")
    assert lines[4] == "49"
