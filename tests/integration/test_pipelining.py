"""Pipelined requests from a peer that never reads (issue #11, findings 2 and 3).

The server answers a budget of requests, then stops reading from that peer until it
reads: its memory and descriptors stay bounded under every model, and everyone else
is still served.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import psutil
import pytest

from hosepipe import Client
from hosepipe.book import Entry
from hosepipe.book.client import BookClient
from hosepipe.wire import encode_frame, get_codec, hello
from tests.conftest import start_server
from tests.measured import record

MODELS = ["iterative", "thread", "fork", "select", "async"]
MiB = 1024 * 1024


def _tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def _rss(pid: int) -> int:
    total = 0
    for process in _tree(pid):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def _fds(pid: int) -> int:
    total = 0
    for process in _tree(pid):
        try:
            total += process.num_fds()
        except psutil.NoSuchProcess:
            pass
    return total


def _flood(address: str, requests: bytes) -> socket.socket:
    """Connect, say hello, send every request, read nothing."""
    host, port = address[6:].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(encode_frame(hello.client_hello("msgpack")) + requests)
    return sock


def _peak_while(pid: int, seconds: float, measure: object) -> int:
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, measure(pid))  # type: ignore[operator]
        time.sleep(0.1)
    return peak


@pytest.mark.parametrize("model", MODELS)
def test_pipelined_list_requests_do_not_grow_the_server(model: str, tmp_path: Path) -> None:
    db = f"sqlite://{tmp_path}/book.sqlite3"
    server = start_server("book@tcp://127.0.0.1:0", "--model", model, "--db", db)
    address = server.address("book")
    try:
        with BookClient(address) as book:
            book.add_many([Entry(f"Knight {i:04}", str(i), "Round Table Road", "Camelot",
                                 f"555-{i:04}") for i in range(1000)])
        baseline = _rss(server.process.pid)
        request = encode_frame(get_codec("msgpack").dumps({"op": "list"}))
        flooding = []
        sent = 0
        while sent < 65_000:  # 65 KB of requests: ~4,000 replies of ~60 KB each
            flooding.append(request)
            sent += len(request)
        with _flood(address, b"".join(flooding)):
            peak = _peak_while(server.process.pid, 3.0, _rss)
            if model != "iterative":  # one at a time: the others wait by design
                with BookClient(address, timeout=10) as other:  # still served
                    assert other.find("Knight 0007").town == "Camelot"
        record("pipelined book list flood, server RSS growth (MiB)", model,
               f"{(peak - baseline) / MiB:.1f}")
        assert peak - baseline < 48 * MiB, f"grew by {(peak - baseline) // MiB} MiB"
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("model", MODELS)
def test_pipelined_gets_hold_one_file_open(model: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.txt").write_bytes(b"x" * 100)
    server = start_server("files@tcp://127.0.0.1:0", "--model", model, "--root", str(root),
                          max_fds=1024)
    address = server.address("files")
    try:
        baseline = _fds(server.process.pid)
        get = encode_frame(get_codec("msgpack").dumps({"op": "get", "path": "small.txt"}))
        with _flood(address, get * 5000):
            peak = _peak_while(server.process.pid, 2.0, _fds)
            if model != "iterative":
                with Client(address, timeout=10) as other:  # the listener is not starved
                    assert other.request({"op": "list", "path": ""})[0]["name"] == "small.txt"
        record("pipelined gets, server descriptors (baseline+growth)", model,
               f"{baseline}+{peak - baseline}")
        assert peak - baseline < 20, f"{peak - baseline} more descriptors"
    finally:
        assert server.stop() == 0
