"""The file service served for real: traversal under every model, round trips, kills
mid-transfer and resume, uploads, netcat."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosepipe import ConnectionClosed, RemoteError, TransportError
from hosepipe.files.client import ChecksumMismatch, FilesClient
from tests.conftest import FileTree, ServerProcess, make_tree, start_server
from tests.unit.test_sandbox import REFUSED, SERVED
from tests.waiting import wait_for

MODELS = ["iterative", "thread", "fork", "select", "async"]
BIG_SIZE = 256 << 20


def serve_files(tree: FileTree, model: str = "select", *extra: str) -> ServerProcess:
    return start_server("files@tcp://127.0.0.1:0", "--root", str(tree.root), "--model", model,
                        *extra)


def classic_get(address: str, path: bytes) -> bytes:
    host, port = address[6:].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(path + b"\n")
        chunks = []
        while data := sock.recv(1 << 20):
            chunks.append(data)
        return b"".join(chunks)


@pytest.fixture(scope="module", params=MODELS)
def model_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[ServerProcess]:
    tree = make_tree(tmp_path_factory.mktemp("files-" + request.param))
    server = serve_files(tree, request.param)
    yield server
    assert server.stop() == 0


def test_traversal_catalogue_over_the_wire(model_server: ServerProcess) -> None:
    address = model_server.address("files")
    for path in REFUSED:
        raw = path.encode("utf-8", "surrogateescape")
        if b"\n" in raw:
            continue
        assert classic_get(address, raw) == b"", path
    with FilesClient(address) as files:
        for path in REFUSED:
            with pytest.raises(RemoteError) as info:
                files.stat(path)
            assert info.value.code in ("refused", "not-found"), path
        listed = {item["name"] for item in files.list("")}
        assert listed == {"abs-in-dir", "docs", "empty.txt", "in-link"}
        for bad in ("..", "out-dir", "etc", "/..", "../rootbar"):
            with pytest.raises(RemoteError):
                files.list(bad)
    for path, expected in SERVED.items():
        assert classic_get(address, path.encode()) == expected.encode(), path


def test_generated_names_never_serve_outside(model_server: ServerProcess) -> None:
    rng = random.Random(4)
    parts = ["..", ".", "", "docs", "out-link", "out-dir", "etc", "passwd", "outside",
             "secret.txt", "rootbar", "x.txt", ".env", "fifo", "in-link", "report.txt"]
    address = model_server.address("files")
    generated = ["/".join(rng.choice(parts) for _ in range(rng.randint(1, 6)))
                 for _ in range(150)]
    for path in generated:  # (one connection at a time: the iterative model serves too)
        body = classic_get(address, path.encode())
        assert body in (b"", b"the report\n", b"deep note\n"), (path, body)
    with FilesClient(address) as files:
        for path in generated:
            try:
                names = {item["name"] for item in files.list(path)}
            except RemoteError:
                continue
            assert not names & {"secret.txt", "x.txt", "passwd", ".env"}, path


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileTree]:
    base = tmp_path_factory.mktemp("big")
    tree = make_tree(base)
    rng = random.Random(1)
    (tree.root / "one.bin").write_bytes(b"\x7f")
    (tree.root / "odd.bin").write_bytes(rng.randbytes(3_000_001))
    try:
        with open(tree.root / "big.bin", "wb") as file:  # 256 MiB, not all one byte
            block = rng.randbytes(1 << 20)
            for i in range(BIG_SIZE >> 20):
                file.write(block[i:] + block[:i])
        yield tree
    finally:  # not left for pytest's retention: 256 MiB a run adds up
        shutil.rmtree(base)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.parametrize("model", ["thread", "fork", "select", "async"])
def test_round_trips_with_sha256(big_tree: FileTree, tmp_path: Path, model: str) -> None:
    server = serve_files(big_tree, model)
    try:
        with FilesClient(server.address("files")) as files:
            names = ["empty.txt", "one.bin", "odd.bin"] + (["big.bin"] if model in
                                                           ("select", "async") else [])
            for name in names:
                header = files.get(name, tmp_path / name)
                assert (tmp_path / name).stat().st_size == (big_tree.root / name).stat().st_size
                assert sha256_file(tmp_path / name) == header["sha256"] == sha256_file(
                    big_tree.root / name)
                assert not (tmp_path / f"{name}.part").exists()
                (tmp_path / name).unlink()
    finally:
        assert server.stop() == 0


def test_killed_server_mid_transfer_then_resume(big_tree: FileTree, tmp_path: Path) -> None:
    """20 rounds: the client reports the loss, never renames a bad part, resume finishes."""
    rng = random.Random(20)
    dest = tmp_path / "big.bin"
    expected = sha256_file(big_tree.root / "big.bin")
    reported = 0
    for round_ in range(20):
        server = serve_files(big_tree, ["thread", "select", "async", "fork"][round_ % 4])
        errors: list[BaseException] = []
        reached: list[int] = []  # the round's first offset, then how far it has come

        def slow(done: int, total: int, reached: list[int] = reached) -> None:
            reached[1:] = [done] if reached else [done, done]
            time.sleep(0.002)  # a slow reader, so that the kill lands mid-transfer

        def fetch(address: str = server.address("files"),
                  errors: list[BaseException] = errors) -> None:
            try:
                with FilesClient(address, timeout=10) as files:
                    files.get("big.bin", dest, resume=True, progress=slow)
            except (ConnectionClosed, TransportError, RemoteError) as exc:
                errors.append(exc)

        thread = threading.Thread(target=fetch)
        thread.start()
        # the kill lands at a random point of the transfer, however slow the machine
        fraction = rng.uniform(0.02, 0.3)

        def far_enough(thread: threading.Thread = thread, reached: list[int] = reached,
                       fraction: float = fraction) -> bool:
            if not thread.is_alive():
                return True
            return bool(reached) and reached[1] >= reached[0] + fraction * (BIG_SIZE -
                                                                            reached[0])

        wait_for(far_enough, "the transfer to get under way", 60)
        server.process.send_signal(signal.SIGKILL)
        thread.join(30)
        server.stop()
        if errors:
            reported += 1
            assert "--resume" in str(errors[0]) or isinstance(errors[0], TransportError)
            assert not dest.exists()  # never renamed without the whole, verified file
        if dest.exists():
            assert sha256_file(dest) == expected
            dest.unlink()
    assert reported >= 10
    part = dest.with_name("big.bin.part")
    server = serve_files(big_tree)
    try:
        with FilesClient(server.address("files")) as files:
            if part.exists():  # corrupt the part: the checksum must catch it
                with open(part, "r+b") as file:
                    file.write(b"corrupt!")
                with pytest.raises(ChecksumMismatch):
                    files.get("big.bin", dest, resume=True)
                assert not part.exists() and not dest.exists()
            files.get("big.bin", dest, resume=True)
        assert sha256_file(dest) == expected
    finally:
        assert server.stop() == 0


def test_resume_asks_only_for_the_rest(big_tree: FileTree, tmp_path: Path) -> None:
    part = tmp_path / "odd.bin.part"
    part.write_bytes((big_tree.root / "odd.bin").read_bytes()[:1_000_000])
    server = serve_files(big_tree)
    try:
        with FilesClient(server.address("files")) as files:
            header = files.get("odd.bin", tmp_path / "odd.bin", resume=True)
        assert header["offset"] == 1_000_000
        assert (tmp_path / "odd.bin").read_bytes() == (big_tree.root / "odd.bin").read_bytes()
    finally:
        assert server.stop() == 0


def test_uploads(tree: FileTree, tmp_path: Path) -> None:
    server = serve_files(tree, "select", "--uploads", str(tree.uploads), "--max-upload", "1MB")
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(500_000))
    try:
        with FilesClient(server.address("files")) as files:
            reply = files.put(payload)
            assert reply["stored"] == "payload.bin"
            assert (tree.uploads / "payload.bin").read_bytes() == payload.read_bytes()
            with pytest.raises(RemoteError, match="exists"):
                files.put(payload)
        big = tmp_path / "big.bin"
        big.write_bytes(b"\0" * 1_000_001)
        with FilesClient(server.address("files")) as files:
            with pytest.raises(RemoteError, match="too-large"):
                files.put(big)
            for bad in ("../escape", ".hidden", "a/b", ""):
                with pytest.raises(RemoteError):
                    files.put(payload, bad)
        assert sorted(os.listdir(tree.uploads)) == ["payload.bin"]
    finally:
        assert server.stop() == 0


def test_read_only_by_default(tree: FileTree, tmp_path: Path) -> None:
    server = serve_files(tree)
    (tmp_path / "x").write_bytes(b"x")
    try:
        with FilesClient(server.address("files")) as files, \
                pytest.raises(RemoteError, match="no uploads"):
            files.put(tmp_path / "x")
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["thread", "fork", "select", "async"])
def test_partial_upload_never_visible(tree: FileTree, model: str) -> None:
    server = serve_files(tree, model, "--uploads", str(tree.uploads))
    data = os.urandom(400_000)
    try:
        with FilesClient(server.address("files")) as files:
            files.client.request({"op": "put", "path": "partial.bin", "size": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest()})
            files.client.stream.send_all(data[:200_000], 10)
            deadline = time.monotonic() + 10
            while not any(n.startswith(".partial.bin.upload-") for n in os.listdir(tree.uploads)):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert not (tree.uploads / "partial.bin").exists()
        deadline = time.monotonic() + 10  # the client vanished: the temporary file goes
        while os.listdir(tree.uploads):
            assert time.monotonic() < deadline, os.listdir(tree.uploads)
            time.sleep(0.02)
        with FilesClient(server.address("files")) as files, \
                pytest.raises(RemoteError, match="checksum"):  # a wrong checksum: not stored
            files.client.request({"op": "put", "path": "bad.bin", "size": 3,
                                  "sha256": "0" * 64})
            files.client.stream.send_all(b"abc", 10)
            files.client.receive_reply()
        assert os.listdir(tree.uploads) == []
    finally:
        assert server.stop() == 0


@pytest.mark.skipif(shutil.which("nc") is None, reason="netcat-openbsd missing")
def test_netcat_classic_download(big_tree: FileTree) -> None:
    server = serve_files(big_tree, "async")
    try:
        port = server.address("files").rsplit(":", 1)[1]
        result = subprocess.run(["nc", "-N", "127.0.0.1", port], input=b"odd.bin\n",
                                capture_output=True, timeout=30, check=True)
        assert result.stdout == (big_tree.root / "odd.bin").read_bytes()
        result = subprocess.run(["nc", "-N", "127.0.0.1", port], input=b"../outside/secret.txt\n",
                                capture_output=True, timeout=30, check=True)
        assert result.stdout == b""
    finally:
        assert server.stop() == 0
