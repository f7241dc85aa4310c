"""The file service's hardening, against real servers: empty uploads, the checksum cache
under fork, strict JSON, hard links, upload names, the refusal log, orphans swept at
start, and a file that shrinks while it is sent."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import time
from pathlib import Path

import psutil
import pytest

from hosepipe import RemoteError
from hosepipe.files.client import FilesClient
from hosepipe.wire import get_codec, hello
from hosepipe.wire.framing import FrameDecoder, encode_frame
from tests.conftest import FileTree, ServerProcess, start_server

MODELS = ["iterative", "thread", "fork", "select", "async"]


def serve(tree: FileTree, model: str = "select", **options: object) -> ServerProcess:
    """A files server with these service options (through a config file)."""
    lines = ['[[bind]]', 'service = "files"', 'address = "tcp://127.0.0.1:0"',
             f'root = "{tree.root}"', f'uploads = "{tree.uploads}"']
    lines += [f"{key} = {str(value).lower() if isinstance(value, bool) else value!r}"
              .replace("'", '"') for key, value in options.items()]
    config = tree.root.parent / f"files-{time.monotonic_ns()}.toml"
    config.write_text("\n".join(lines) + "\n")
    return start_server("--config", str(config), "--model", model, expect=1)


def endpoint(server: ServerProcess) -> tuple[str, int]:
    host, port = server.address("files")[6:].rsplit(":", 1)
    return host, int(port)


def read_frames(sock: socket.socket, count: int) -> list[bytes]:
    decoder = FrameDecoder()
    frames: list[bytes] = []
    while len(frames) < count:
        data = sock.recv(65536)
        assert data, f"closed after {len(frames)} of {count} frames"
        decoder.feed(data)
        while (frame := decoder.next_frame()) is not None:
            frames.append(frame)
    return frames


@pytest.mark.parametrize("model", MODELS)
def test_an_empty_upload_completes(tree: FileTree, tmp_path: Path, model: str) -> None:
    server = serve(tree, model)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    try:
        with FilesClient(server.address("files"), timeout=10) as files:
            assert files.put(empty)["stored"] == "empty.bin"
            assert files.list("")  # the connection goes on
        assert (tree.uploads / "empty.bin").read_bytes() == b""
    finally:
        assert server.stop() == 0


def test_fork_children_share_the_checksum_cache(tree: FileTree) -> None:
    """Under fork every request is a new child. A file changed in place with its size
    and mtime kept: a shared cache still gives the first hash (as any process-local
    cache would, within one process), a cache that dies with each child a new one."""
    target = tree.root / "docs" / "report.txt"
    first = hashlib.sha256(target.read_bytes()).hexdigest()
    server = serve(tree, "fork")
    try:
        with FilesClient(server.address("files")) as files:
            assert files.stat("docs/report.txt", sha256=True)["sha256"] == first
        before = target.stat()
        target.write_bytes(b"THE REPORT\n")
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        with FilesClient(server.address("files")) as files:
            assert files.stat("docs/report.txt", sha256=True)["sha256"] == first
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["thread", "select"])
def test_lone_surrogates_in_json_get_an_error_reply(tree: FileTree, model: str) -> None:
    server = serve(tree, model)
    json_codec = get_codec("json")
    try:
        with socket.create_connection(endpoint(server), timeout=10) as sock:
            sock.sendall(encode_frame(hello.client_hello("json"))
                         + encode_frame(b'{"op":"stat","path":"\\ud800"}')
                         + encode_frame(b'{"op":"put","path":"\\udc80x","size":1,'
                                        b'"sha256":"' + b"0" * 64 + b'"}')
                         + encode_frame(b'{"op":"stat","path":"docs/report.txt"}'))
            _, *replies = read_frames(sock, 4)
        errors = [json_codec.decode(r) for r in replies]
        assert [e.get("error") for e in errors[:2]] == ["bad-request", "bad-request"]
        assert errors[2]["ok"]["size"] == len("the report\n")
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


def classic_get(server: ServerProcess, path: bytes) -> bytes:
    with socket.create_connection(endpoint(server), timeout=10) as sock:
        sock.sendall(path + b"\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_single_link_refuses_a_hard_link_from_outside(tree: FileTree) -> None:
    os.link(tree.outside / "secret.txt", tree.root / "linked.txt")
    default, strict = serve(tree), serve(tree, single_link=True)
    try:
        assert classic_get(default, b"linked.txt") == b"outside secret\n"  # documented
        assert classic_get(strict, b"linked.txt") == b""
        assert classic_get(strict, b"docs/report.txt") == b"the report\n"
        with FilesClient(strict.address("files")) as files, \
                pytest.raises(RemoteError, match="hard links"):
            files.stat("linked.txt")
    finally:
        assert default.stop() == 0
        assert strict.stop() == 0


def test_upload_names_with_control_characters_are_refused(tree: FileTree, tmp_path: Path
                                                          ) -> None:
    local = tmp_path / "x.bin"
    local.write_bytes(b"x")
    server = serve(tree)
    try:
        with FilesClient(server.address("files")) as files:
            for name in ("evil\x1b]0;pwned\x07.txt", "two\nlines.txt", "\u202etxt.exe"):
                with pytest.raises(RemoteError, match="control or format"):
                    files.put(local, name)
        assert os.listdir(tree.uploads) == []
    finally:
        assert server.stop() == 0


def test_refused_classic_paths_are_logged_escaped_cut_and_rate_limited(tree: FileTree
                                                                       ) -> None:
    server = serve(tree)
    started = time.monotonic()
    try:
        for i in range(40):
            assert classic_get(server, b"\x1b[2J" + b"../" * 3000 + b"%d" % i) == b""
    finally:
        assert server.stop() == 0
    elapsed = time.monotonic() - started
    refused = [line for line in server.log().splitlines() if "files: refused" in line]
    assert 1 <= len(refused) <= elapsed + 2  # at most one a second
    assert all("\x1b" not in line and len(line) < 400 for line in refused)
    assert "\\x1b[2J../../" in refused[0]
    if len(refused) > 1:
        assert "more like this suppressed" in refused[1]


def upload_started(server: ServerProcess, name: str, size: int) -> FilesClient:
    """A put accepted and half sent, then stalled: its temporary file exists."""
    files = FilesClient(server.address("files"))
    files.client.request({"op": "put", "path": name, "size": size, "sha256": "0" * 64})
    files.client.stream.send_all(b"x" * (size // 2), 10)
    return files


def temporaries(tree: FileTree, name: str) -> list[str]:
    return [n for n in os.listdir(tree.uploads) if n.startswith(f".{name}.upload-")]


def wait_for(condition: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def make_old(path: Path) -> None:
    then = time.time() - 120
    os.utime(path, (then, then))


@pytest.mark.parametrize("model", ["select", "fork"])
def test_orphaned_temporaries_are_swept_at_start(tree: FileTree, model: str) -> None:
    """A server killed mid-upload (SIGKILL, to its fork children too) leaves its
    temporary; the next server to start on the directory removes it, but not the
    stalled upload of a server still running there."""
    killed = serve(tree, model)
    living = serve(tree, model)
    newcomer = None
    clients = [upload_started(killed, "orphan.bin", 100_000),
               upload_started(living, "alive.bin", 100_000)]
    try:
        wait_for(lambda: temporaries(tree, "orphan.bin") and temporaries(tree, "alive.bin"),
                 "the uploads never began")
        children = psutil.Process(killed.process.pid).children()
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(10)
        for child in children:
            child.kill()
        psutil.wait_procs(children, timeout=10)
        for name in ("orphan.bin", "alive.bin"):
            for temporary in temporaries(tree, name):
                make_old(tree.uploads / temporary)
        newcomer = serve(tree, model, upload_stale=60)
        assert temporaries(tree, "orphan.bin") == []
        assert len(temporaries(tree, "alive.bin")) == 1
        assert re.search(r"removed an orphaned upload \.orphan\.bin\.upload-",
                         newcomer.log())
    finally:
        for client in clients:
            client.close()
        killed.stop()
        assert living.stop() == 0
        if newcomer is not None:
            newcomer.stop()


@pytest.mark.parametrize("model", MODELS)
def test_a_file_that_shrinks_during_a_get_ends_the_connection(tree: FileTree, model: str
                                                              ) -> None:
    big = tree.root / "big.bin"
    with open(big, "wb") as file:
        file.truncate(256 * 1024 * 1024)  # sparse: far more than the socket buffers hold
    server = serve(tree, model)
    try:
        with socket.create_connection(endpoint(server), timeout=20) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(encode_frame(get_codec("msgpack").encode(
                {"op": "get", "path": "big.bin"})))
            sock.recv(4096)  # the reply header (and perhaps some bytes): the send began
            os.truncate(big, 1000)
            received = 0
            while data := sock.recv(1 << 20):  # the server must close, not leave us here
                received += len(data)
        assert received < 256 * 1024 * 1024
    finally:
        server.stop()
