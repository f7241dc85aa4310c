"""serial:// through a real ``hosepipe serve``: every built-in service served on one end
of a line and called from the other, under every model; the line settings as the
kernel has them; 10 MiB through echo; the far end going away and coming back.

Lines are pseudo-terminals: pairs joined by socat (``tests/lines.py``), whose far end
is opened through serial:// as a client opens a device, and ``os.openpty()`` pairs,
whose master the test holds (the services that speak first: nobody opens the far end
after them, so nothing they said is flushed)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hosepipe import Client, classic
from hosepipe.services.clocks import rfc868_decode
from hosepipe.services.square import GREETING
from hosepipe.transports.serial_streams import TtyStream
from tests.conftest import ServerProcess, run_cli, start_server
from tests.lines import SocatLine

MODELS = ["iterative", "thread", "fork", "select", "async"]
FAR = ["echo", "square", "upper", "ni", "msg-square", "msg-upper", "msg-ni", "book", "files"]
SPEAKERS = ["daytime", "time"]
DEADLINE = 30.0


@dataclass
class Bench:
    """A server with every service on a line of its own, and the lines' far ends."""

    servers: list[ServerProcess]
    far: dict[str, str] = field(default_factory=dict)  # service -> serial:// address
    masters: dict[str, TtyStream] = field(default_factory=dict)  # speakers' far ends


@pytest.fixture(scope="module", params=MODELS)
def bench(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Bench]:
    directory = tmp_path_factory.mktemp(f"serial-{request.param}")
    (directory / "files").mkdir()
    (directory / "files" / "knights.txt").write_text("we are the knights who say ni\n")
    lines = {name: SocatLine(directory, name) for name in FAR}
    ptys = {name: os.openpty() for name in SPEAKERS}
    args = [f"{name.removeprefix('msg-')}@serial://{line.a}" for name, line in lines.items()]
    args += [f"{name}@serial://{os.ttyname(slave)}" for name, (_, slave) in ptys.items()]
    options = ["--model", request.param, "--db", f"sqlite:///{directory}/book.db",
               "--root", str(directory / "files")]
    # the iterative model serves one conversation at a time, and a line's never ends:
    # a server for each line
    groups = [[arg] for arg in args] if request.param == "iterative" else [args]
    servers: list[ServerProcess] = []
    try:
        servers += [start_server(*group, *options) for group in groups]
    except BaseException:  # no server: nothing of this bench may outlive it
        for server in servers:
            server.stop()
        for line in lines.values():
            line.close()
        for master, _ in ptys.values():
            os.close(master)
        raise
    finally:
        for _, slave in ptys.values():
            os.close(slave)  # the server has its own
    masters = {name: TtyStream(master, name, release=lambda fd=master: os.close(fd))
               for name, (master, _) in ptys.items()}
    yield Bench(servers, {name: f"serial://{line.b}" for name, line in lines.items()},
                masters)
    # The servers go first. A server whose pty hangs up waits for the device to come
    # back and reopens /dev/pts/N by name: once the master is closed that number is
    # free, and the next pty made on this machine (another test's, another suite's)
    # would be opened, locked and spoken into by a server of this bench.
    stopped = [server.stop() for server in servers]
    for master in masters.values():
        master.close()
    for line in lines.values():
        line.close()
    assert stopped == [0] * len(servers), [server.log() for server in servers]


def test_echo(bench: Bench) -> None:
    address = bench.far["echo"]
    assert classic.echo(address, "hello world") == "hello world"
    assert classic.echo(address, "ünïcödé \x01\x11\x13") == "ünïcödé \x01\x11\x13"  # XON/XOFF too


def test_square(bench: Bench) -> None:
    replies = list(classic.square(bench.far["square"], ["3", "-12", "x"]))
    assert replies[:3] == [GREETING, "9", "144"]
    assert replies[3].startswith("error: not an integer")


def test_upper_and_ni(bench: Bench) -> None:
    assert list(classic.upper(bench.far["upper"], ["knights", "ni"])) == ["KNIGHTS", "NI"]
    assert list(classic.ni(bench.far["ni"], ["shrubbery"])) == ["Ni!\nshrubbery\nNi!"]


def test_message_services_and_a_second_client_on_the_line(bench: Bench) -> None:
    for _ in range(2):  # the server's conversation lives on: the second hello is new
        with Client(bench.far["msg-square"]) as client:
            assert client.request(12) == 144
        with Client(bench.far["msg-upper"], codec="json") as client:
            assert client.request("knights") == "KNIGHTS"
        with Client(bench.far["msg-ni"]) as client:
            assert client.request("shrubbery") == "Ni!\nshrubbery\nNi!"


def test_book(bench: Bench) -> None:
    address = bench.far["book"]
    added = run_cli("book", "-a", address, "add", "Arthur", "1", "Castle St", "Camelot",
                    "555")
    assert added.returncode == 0, added.stderr
    found = run_cli("book", "-a", address, "find", "Arthur")
    assert found.returncode == 0 and "Camelot" in found.stdout, found.stderr


def test_files(bench: Bench, tmp_path: Path) -> None:
    listing = run_cli("ls", "-a", bench.far["files"])
    assert listing.returncode == 0 and "knights.txt" in listing.stdout, listing.stderr
    got = run_cli("get", "-a", bench.far["files"], "-o", str(tmp_path), "knights.txt")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "knights.txt").read_text() == "we are the knights who say ni\n"


def read_until(stream: TtyStream, done: object) -> bytes:
    data = b""
    while not done(data):  # type: ignore[operator]
        got = stream.receive_some(DEADLINE)
        assert got, f"the line hung up after {data!r}"
        data += got
    return data


def test_daytime_and_time_speak_on_the_line(bench: Bench) -> None:
    said = read_until(bench.masters["daytime"], lambda d: b"\n" in d).split(b"\n")[0]
    stamp = time.mktime(time.strptime(said.decode().strip(), "%a %b %d %H:%M:%S %Y"))
    assert abs(stamp - time.time()) < 60
    value = read_until(bench.masters["time"], lambda d: len(d) >= 4)[:4]
    assert abs(rfc868_decode(value) - time.time()) < 60
