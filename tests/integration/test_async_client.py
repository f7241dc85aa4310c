"""AsyncClient has what Client has: pipe: (a forked child), raw mode for a plain
multiprocessing Listener, authkey (see test_client_auth.py), and raw regions after a
reply (a file after the files service's get reply)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from multiprocessing.connection import Listener as StdListener
from pathlib import Path

import psutil

from hosepipe import AsyncClient
from hosepipe.services.square import Square
from tests.conftest import start_server

KEY = b"a-very-secret-key-of-enough-length"


def test_pipe_child_is_served_and_reaped() -> None:
    me = psutil.Process()

    async def talk() -> list[int]:
        async with await AsyncClient.connect("pipe:", service=Square()) as client:
            assert len(me.children()) == 1
            return [await client.request(n) for n in (3, -12, "7")]

    assert asyncio.run(talk()) == [9, 144, 49]
    assert me.children() == []


def test_raw_mode_talks_to_a_stdlib_listener_with_a_key() -> None:
    listener = StdListener(("127.0.0.1", 0), authkey=KEY)
    host, port = listener.address

    def serve() -> None:
        with listener.accept() as conn:
            while True:
                try:
                    conn.send({"doubled": conn.recv() * 2})
                except EOFError:
                    return

    thread = threading.Thread(target=serve)
    thread.start()

    async def talk() -> list[object]:
        async with await AsyncClient.connect(f"tcp://{host}:{port}", authkey=KEY,
                                             codec="pickle", raw=True) as client:
            return [await client.request(21), await client.request("ni")]

    try:
        assert asyncio.run(talk()) == [{"doubled": 42}, {"doubled": "nini"}]
    finally:
        thread.join(10)
        listener.close()


def test_raw_region_after_a_reply(tmp_path: Path) -> None:
    data = bytes(range(256)) * 3000
    (tmp_path / "f.bin").write_bytes(data)
    server = start_server("files@tcp://127.0.0.1:0", "--root", str(tmp_path))

    async def fetch() -> tuple[bytes, str, str]:
        async with await AsyncClient.connect(server.address("files")) as client:
            header = await client.request({"op": "get", "path": "f.bin", "offset": 0})
            received = bytearray()
            while len(received) < header["size"]:
                chunk = await client.read_raw(header["size"] - len(received))
                assert chunk, "closed early"
                received += chunk
            listing = await client.request({"op": "list", "path": ""})  # frames again
            return bytes(received), header["sha256"], listing[0]["name"]

    try:
        received, sha, name = asyncio.run(fetch())
    finally:
        assert server.stop() == 0
    assert received == data
    assert sha == hashlib.sha256(data).hexdigest()
    assert name == "f.bin"
