"""Every server model x every classic service, over TCP, a Unix socket and UDP,
plus exec: programs and user classes, all through a real ``hosepipe serve``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hosepipe import Client, LineClient, RemoteError, classic
from hosepipe.client import open_stream
from hosepipe.services.square import GREETING
from tests.conftest import ServerProcess, start_server

MODELS = ["iterative", "thread", "fork", "select", "async"]
CLASSIC = ["echo", "daytime", "time", "square", "upper", "ni"]
DATAGRAM = ["echo", "daytime", "time"]


@pytest.fixture(scope="module", params=MODELS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ServerProcess]:
    model = request.param
    directory = tmp_path_factory.mktemp(model)
    args = [f"{s}@tcp://127.0.0.1:0" for s in CLASSIC]
    args += [f"{s}@unix://{directory}/{s}.sock" for s in CLASSIC]
    args += [f"{s}@udp://127.0.0.1:0" for s in DATAGRAM]
    args += ["exec:tr a-z A-Z@tcp://127.0.0.1:0"]
    args += ["tests.integration.user_services:Adder@tcp://127.0.0.1:0"]
    args += [f"tests.integration.user_services:Countdown@unix://{directory}/count.sock"]
    srv = start_server(*args, "--model", model, cwd=Path(__file__).parents[2])
    yield srv
    assert srv.stop() == 0, srv.log()


def check_echo(address: str) -> None:
    assert classic.echo(address, "hello world") == "hello world"
    assert classic.echo(address, "ünïcödé \x01") == "ünïcödé \x01"


def check_daytime(address: str) -> None:
    stamp = time.mktime(time.strptime(classic.daytime(address), "%a %b %d %H:%M:%S %Y"))
    assert abs(stamp - time.time()) < 5


def check_time(address: str) -> None:
    _value, unix = classic.rfc868_time(address)
    assert abs(unix - time.time()) < 5


def check_square(address: str) -> None:
    replies = list(classic.square(address, ["3", "-12", "99999999999", "x"]))
    assert replies[:4] == [GREETING, "9", "144", "9999999999800000000001"]
    assert replies[4].startswith("error: not an integer")


def check_upper(address: str) -> None:
    assert list(classic.upper(address, ["knights", "ni"])) == ["KNIGHTS", "NI"]


def check_ni(address: str) -> None:
    assert list(classic.ni(address, ["shrubbery", ""])) == [
        "Ni!\nshrubbery\nNi!",
        "Error: received empty message",
    ]


CHECKS: dict[str, Callable[[str], None]] = {
    "echo": check_echo, "daytime": check_daytime, "time": check_time,
    "square": check_square, "upper": check_upper, "ni": check_ni,
}


@pytest.mark.parametrize("service", CLASSIC)
@pytest.mark.parametrize("scheme", ["tcp", "unix"])
def test_classic_service(server: ServerProcess, service: str, scheme: str) -> None:
    CHECKS[service](server.address(service, scheme))


@pytest.mark.parametrize("service", DATAGRAM)
def test_datagram_service(server: ServerProcess, service: str) -> None:
    CHECKS[service](server.address(service, "udp"))


def test_bare_messages_without_newlines(server: ServerProcess) -> None:
    replies = list(classic.square(server.address("square"), ["5", "-6"], bare=True))
    assert replies == [GREETING, "25", "36"]


@pytest.mark.parametrize("scheme", ["tcp", "unix"])
def test_framed_messages_on_the_classic_port(server: ServerProcess, scheme: str) -> None:
    with Client(server.address("square", scheme)) as client:
        assert [client.request(n) for n in (2, -3, "4")] == [4, 9, 16]
        with pytest.raises(RemoteError, match="bad-request"):
            client.request("four")
    with Client(server.address("upper", scheme), codec="json") as client:
        assert client.request("ni") == "NI"


def test_exec_program_per_connection(server: ServerProcess) -> None:
    stream = open_stream(server.bound["exec"][0])
    client = LineClient(stream)
    try:
        client.send(b"it is a program\n")
        stream.send_eof()
        assert client.read_to_end() == b"IT IS A PROGRAM\n"
    finally:
        client.close()


def test_user_classes(server: ServerProcess) -> None:
    with Client(server.bound["adder"][0]) as client:
        assert client.request([1, 2, 3.5]) == 6.5
        with pytest.raises(RemoteError, match="list of numbers"):
            client.request("x")
    client = LineClient(open_stream(server.bound["Countdown"][0]))
    try:
        client.send(b"x" * 1000)
        client.stream.send_eof()
        assert client.read_to_end() == b"1000 bytes\n"
    finally:
        client.close()


def test_many_connections_at_once(server: ServerProcess) -> None:
    address = server.address("upper")
    streams = [LineClient(open_stream(address)) for _ in range(10)]
    try:
        for i, client in enumerate(streams):
            client.send_line(f"client {i}")
        if "iterative" not in server.lines[0]:
            assert [c.read_line() for c in streams] == [f"CLIENT {i}" for i in range(10)]
    finally:
        for client in streams:
            client.close()
