"""``hosepipe get``: where it writes (-o DIR/, -o -), and what it does with a NAME.part
left by an earlier run (resumed when it is the start of the file, verified, else
fetched again; the hint after Ctrl-C)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from hosepipe.wire import hello
from hosepipe.wire.framing import FrameDecoder, encode_frame
from tests.conftest import ServerProcess, run_cli, start_server

DATA = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def files(tmp_path: Path) -> Iterator[ServerProcess]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "data.bin").write_bytes(DATA)
    server = start_server("files@tcp://127.0.0.1:0", "--root", str(root))
    yield server
    assert server.stop() == 0


def get(server: ServerProcess, *args: str, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "hosepipe", "get", "-a",
                           server.address("files"), "data.bin", *args],
                          capture_output=True, timeout=60, check=False, cwd=cwd)


def test_output_with_a_trailing_slash_is_a_directory(files: ServerProcess,
                                                     tmp_path: Path) -> None:
    result = get(files, "-o", f"{tmp_path}/new/deeper/")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "deeper" / "data.bin").read_bytes() == DATA
    assert not (tmp_path / "new" / "deeper" / "data.bin.part").exists()


def test_output_dash_is_standard_output(files: ServerProcess, tmp_path: Path) -> None:
    result = get(files, "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]  # no part, no "-"
    assert b"verified" in result.stderr


def test_a_part_that_is_the_start_of_the_file_is_resumed(files: ServerProcess,
                                                         tmp_path: Path) -> None:
    (tmp_path / "data.bin.part").write_bytes(DATA[:300_000])
    result = get(files, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"resuming data.bin.part (300000 bytes" in result.stderr
    assert b"again from the start" not in result.stderr
    assert (tmp_path / "data.bin").read_bytes() == DATA


def test_a_part_that_is_not_the_start_is_fetched_again(files: ServerProcess,
                                                       tmp_path: Path) -> None:
    (tmp_path / "data.bin.part").write_bytes(b"x" * 300_000)
    result = get(files, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"was not the start of data.bin; downloading it again" in result.stderr
    assert (tmp_path / "data.bin").read_bytes() == DATA


def test_restart_discards_the_part(files: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "data.bin.part").write_bytes(b"x" * 300_000)
    result = get(files, "--restart", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"resuming" not in result.stderr
    assert (tmp_path / "data.bin").read_bytes() == DATA


class Stalling:
    """A framed file server that sends half of DATA after the get reply, then either
    holds the connection (until the client goes) or closes it."""

    def __init__(self, close_after_half: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.close_after_half = close_after_half
        self.decoder = FrameDecoder()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"

    def _frames(self, conn: socket.socket, count: int) -> None:
        """Wait for ``count`` more frames (one decoder for the connection: a receive
        may bring the end of one frame and the next)."""
        got = 0
        while got < count:
            while got < count and self.decoder.next_frame() is not None:
                got += 1
            if got < count:
                data = conn.recv(65536)
                assert data, "client left early"
                self.decoder.feed(data)

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            self._frames(conn, 1)  # the hello
            conn.sendall(encode_frame(hello.server_reply("msgpack")))
            self._frames(conn, 1)  # the get request
            header = {"size": len(DATA), "mtime": 0.0, "offset": 0,
                      "sha256": hashlib.sha256(DATA).hexdigest()}
            conn.sendall(encode_frame(msgpack.packb({"ok": header})) + DATA[: len(DATA) // 2])
            if not self.close_after_half:
                conn.settimeout(60)
                while conn.recv(65536):  # until the client is gone
                    pass

    def close(self) -> None:
        self.thread.join(60)
        self.sock.close()


def wait_for_size(path: Path, size: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.stat().st_size >= size):
        assert process.poll() is None and time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


def test_ctrl_c_leaves_the_part_and_says_how_to_continue(files: ServerProcess,
                                                        tmp_path: Path) -> None:
    server = Stalling(close_after_half=False)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "hosepipe", "get", "-a", server.address, "data.bin"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # SIGABRT: every thread's stack
        wait_for_size(tmp_path / "data.bin.part", len(DATA) // 4, process)  # (buffered writes)
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # say where it hangs, and leave nothing behind
            process.send_signal(signal.SIGABRT)
            try:
                _, err = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
            pytest.fail("get did not end within 60 s of Ctrl-C; its threads:\n"
                        + err.decode(errors="replace"))
    finally:
        server.close()
    assert process.returncode == 130
    assert b"data.bin.part keeps 524288 bytes; run the same command again to continue" in err
    # and running it again (against a real server) continues the part
    result = get(files, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"resuming data.bin.part (524288 bytes" in result.stderr
    assert (tmp_path / "data.bin").read_bytes() == DATA


def test_a_lost_connection_keeps_the_part(tmp_path: Path) -> None:
    server = Stalling(close_after_half=True)
    try:
        result = run_cli("get", "-a", server.address, "data.bin", "-o", str(tmp_path))
    finally:
        server.close()
    assert result.returncode == 1
    assert "lost after 524288 of 1048576 bytes; run the same command again" in result.stderr
    assert (tmp_path / "data.bin.part").read_bytes() == DATA[: len(DATA) // 2]
