"""Slow work does not stall a shared loop (issue #11, finding 7): the SHA-256 of a big
file is computed on a worker thread under the select and async models, while the loop
goes on serving everyone else -- and the answer, when it comes, is the right one."""

from __future__ import annotations

import functools
import hashlib
import socket
import threading
from pathlib import Path

import pytest

from hosepipe import Client
from tests.conftest import start_server

SIZE = 1024**3  # sparse: costs no disk, but hashing it reads 1 GiB of zeros


@pytest.mark.parametrize("model", ["select", "async", "iterative"])
def test_hashing_a_big_file_does_not_stall_the_loop(model: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with open(root / "big.bin", "wb") as file:
        file.truncate(SIZE)
    server = start_server("files@tcp://127.0.0.1:0", "echo@tcp://127.0.0.1:0",
                          "--model", model, "--root", str(root))
    header: list[dict[str, object]] = []
    answered = [0]  # echoes answered so far
    window: list[int] = []  # ... when the request left, and when its answer came
    # The files connection is served before echo connects: under the iterative model
    # the one served first holds the server, and echo must not be the one.
    greeted = threading.Event()

    def get_header() -> None:
        with Client(server.address("files"), timeout=120) as files:
            greeted.set()
            window.append(answered[0])
            files.send_request({"op": "stat", "path": "big.bin", "sha256": True})
            header.append(files.receive_reply())
            window.append(answered[0])

    getter = threading.Thread(target=get_header)
    try:
        getter.start()
        assert greeted.wait(60), "the files service never finished its handshake"
        host, port = server.address("echo")[6:].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as echo:
            while not header and answered[0] < 1_000_000:  # bounded
                echo.sendall(b"x")
                assert echo.recv(1) == b"x"
                answered[0] += 1
        getter.join(120)
        assert header and header[0]["sha256"] == _sha_of_zeros(SIZE)
        if model == "iterative":
            return  # one connection at a time: echo waited for files, as it must
        during = window[1] - window[0]
        assert during >= 50, f"the loop answered only {during} echoes while hashing"
    finally:
        getter.join(120)
        assert server.stop() == 0


@functools.cache
def _sha_of_zeros(size: int) -> str:
    digest = hashlib.sha256()
    block = b"\0" * (1 << 20)
    for _ in range(size >> 20):
        digest.update(block)
    return digest.hexdigest()
