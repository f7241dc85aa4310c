"""Datagram services: a rate per source address, and the no-amplification option."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from hosepipe import classic
from tests.conftest import start_server


def udp_endpoint(address: str) -> tuple[str, int]:
    host, port = address[6:].rsplit(":", 1)
    return host, int(port)


def blast(target: tuple[str, int], count: int, source: str = "127.0.0.1",
          payload: bytes = b"ping") -> int:
    """Send ``count`` datagrams at once, then count the replies that come back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for _ in range(count):
            sock.sendto(payload, target)
        sock.settimeout(0.5)
        replies = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                sock.recvfrom(65535)
            except TimeoutError:
                break
            replies += 1
        return replies


@pytest.mark.parametrize("model", ["select", "async", "thread"])
def test_rate_per_source(model: str) -> None:
    server = start_server("echo@udp://127.0.0.1:0", "--model", model, "--udp-rate", "20")
    target = udp_endpoint(server.address("echo", "udp"))
    try:
        flooded = blast(target, 300)
        assert 20 <= flooded <= 60  # the burst (40) and what refilled meanwhile
        assert blast(target, 5, source="127.0.0.2") == 5  # another source is unaffected
    finally:
        assert server.stop() == 0
    assert "over udp_rate" in server.log()


def test_no_amplification_by_default_but_for_rfc_867_868(tmp_path: Path) -> None:
    config = tmp_path / "prefix.toml"
    config.write_text('[[bind]]\nservice = "echo"\naddress = "udp://127.0.0.1:0"\n'
                      'prefix = "Echo=>"\n')
    server = start_server("daytime@udp://127.0.0.1:0", "--config", str(config), expect=2)
    try:
        assert blast(udp_endpoint(server.address("daytime", "udp")), 1, payload=b"") == 1
        assert blast(udp_endpoint(server.address("echo", "udp")), 3) == 0  # prefix: larger
    finally:
        assert server.stop() == 0
    assert "was not sent" in server.log()


def test_no_amplification_option() -> None:
    server = start_server("daytime@udp://127.0.0.1:0", "echo@udp://127.0.0.1:0",
                          "--udp-no-amplify")
    try:
        assert blast(udp_endpoint(server.address("daytime", "udp")), 1, payload=b"") == 0
        assert blast(udp_endpoint(server.address("daytime", "udp")), 1, payload=b"x" * 64) == 1
        assert blast(udp_endpoint(server.address("echo", "udp")), 3) == 3  # same size: fine
    finally:
        assert server.stop() == 0


def test_iterative_answers_datagrams_while_a_conversation_lasts() -> None:
    """The iterative model serves one stream conversation at a time, in the hub's loop,
    so its datagram bindings are answered meanwhile (they used to wait for it)."""
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
