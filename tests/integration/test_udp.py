"""Datagram services: a rate per source address, and the no-amplification option."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from hosepipe import classic
from tests.conftest import start_server
from tests.waiting import DEADLINE

QUIET = 2.0  # seconds without a reply after which no more will come


def udp_endpoint(address: str) -> tuple[str, int]:
    host, port = address[6:].rsplit(":", 1)
    return host, int(port)


def replies(target: tuple[str, int], count: int, source: str = "127.0.0.1",
            payload: bytes = b"ping", expect: int | None = None) -> list[float]:
    """Send ``count`` datagrams at once; the times the replies came back. Waits for
    ``expect`` replies (each up to DEADLINE), or else until none came for QUIET s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for _ in range(count):
            sock.sendto(payload, target)
        sock.settimeout(DEADLINE if expect else QUIET)
        times: list[float] = []
        while len(times) < (expect or count):  # one reply a datagram at most
            try:
                sock.recvfrom(65535)
            except TimeoutError:
                break
            times.append(time.monotonic())
        return times


def blast(target: tuple[str, int], count: int, source: str = "127.0.0.1",
          payload: bytes = b"ping", expect: int | None = None) -> int:
    """How many of ``count`` datagrams sent at once were answered."""
    return len(replies(target, count, source, payload, expect))


@pytest.mark.parametrize("model", ["select", "async", "thread"])
def test_rate_per_source(model: str) -> None:
    server = start_server("echo@udp://127.0.0.1:0", "--model", model, "--udp-rate", "20")
    target = udp_endpoint(server.address("echo", "udp"))
    try:
        started = time.monotonic()
        flooded = replies(target, 300)
        # the burst (40) and what refilled by the last reply, however slow the machine
        assert flooded, "not one datagram answered"
        assert 20 <= len(flooded) <= 40 + 20 * (flooded[-1] - started) + 1, len(flooded)
        assert blast(target, 5, source="127.0.0.2", expect=5) == 5  # another source is fine
    finally:
        assert server.stop() == 0
    assert "over udp_rate" in server.log()


def test_no_amplification_by_default_but_for_rfc_867_868(tmp_path: Path) -> None:
    config = tmp_path / "prefix.toml"
    config.write_text('[[bind]]\nservice = "echo"\naddress = "udp://127.0.0.1:0"\n'
                      'prefix = "Echo=>"\n')
    server = start_server("daytime@udp://127.0.0.1:0", "--config", str(config), expect=2)
    try:
        assert blast(udp_endpoint(server.address("daytime", "udp")), 1, payload=b"", expect=1) == 1
        assert blast(udp_endpoint(server.address("echo", "udp")), 3) == 0  # prefix: larger
    finally:
        assert server.stop() == 0
    assert "was not sent" in server.log()


def test_no_amplification_option() -> None:
    server = start_server("daytime@udp://127.0.0.1:0", "echo@udp://127.0.0.1:0",
                          "--udp-no-amplify")
    try:
        assert blast(udp_endpoint(server.address("daytime", "udp")), 1, payload=b"") == 0
        assert blast(udp_endpoint(server.address("daytime", "udp")), 1, payload=b"x" * 64,
                     expect=1) == 1
        assert blast(udp_endpoint(server.address("echo", "udp")), 3, expect=3) == 3  # same size
    finally:
        assert server.stop() == 0


def test_iterative_answers_datagrams_while_a_conversation_lasts() -> None:
    """The iterative model serves one stream conversation at a time, on a thread of its
    own, so the hub's loop answers its datagram bindings meanwhile (they used to wait
    for it)."""
    server = start_server("upper@tcp://127.0.0.1:0", "daytime@udp://127.0.0.1:0",
                          "--model", "iterative")
    try:
        host, port = server.address("upper")[6:].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as held:
            held.sendall(b"one\n")
            held.settimeout(10)
            got = b""
            while got != b"ONE\n":  # the conversation is in flight, and stays open
                chunk = held.recv(4 - len(got))
                assert chunk, got
                got += chunk
            assert classic.daytime(server.address("daytime", "udp"), timeout=5)
    finally:
        assert server.stop() == 0
