"""Every client command authenticates (--authkey-file, HOSEPIPE_AUTHKEY); a server that
wants a key we lack is told in words, never shown as raw challenge bytes."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client as StdClient
from multiprocessing.connection import Listener as StdListener
from pathlib import Path

import pytest

from hosepipe import AsyncClient, Client, classic
from hosepipe.config import read_authkey
from hosepipe.errors import HosepipeError
from hosepipe.wire.messages import AUTH_REQUIRED, AuthRequired
from tests.conftest import ServerProcess, run_cli, start_server

KEY = b"a-very-secret-key-of-enough-length"
SERVICES = ("echo", "daytime", "time", "square", "upper", "ni", "files")


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_bytes(KEY + b"\n")  # as `echo KEY > key` writes it
    return path


@pytest.fixture
def keyed(keyfile: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "incoming").mkdir()
    server = start_server(*(f"{name}@tcp://127.0.0.1:0" for name in SERVICES),
                          "--root", str(tmp_path), "--uploads", str(tmp_path / "incoming"),
                          "--authkey-file", str(keyfile))
    yield server
    assert server.stop() == 0


def commands(server: ServerProcess, tmp_path: Path) -> dict[str, list[str]]:
    a = server.address
    return {
        "echo": ["echo", "-a", a("echo"), "hello"],
        "daytime": ["daytime", "-a", a("daytime")],
        "time": ["time", "-a", a("time")],
        "square": ["square", "-a", a("square"), "12"],
        "upper": ["upper", "-a", a("upper"), "knights"],
        "ni": ["ni", "-a", a("ni"), "shrubbery"],
        "ls": ["ls", "-a", a("files"), "--json"],
        "get": ["get", "-a", a("files"), "hello.txt", "-o", str(tmp_path / "got.txt")],
        "put": ["put", "-a", a("files"), str(tmp_path / "hello.txt"), "--as",
                f"up{len(list((tmp_path / 'incoming').iterdir()))}.txt"],
    }


def test_every_client_command_takes_authkey_file(keyed: ServerProcess, keyfile: Path,
                                                 tmp_path: Path) -> None:
    for name, args in commands(keyed, tmp_path).items():
        result = run_cli(*args, "--authkey-file", str(keyfile))
        assert result.returncode == 0, (name, result.stderr)
    assert (tmp_path / "got.txt").read_text() == "hello\n"
    result = run_cli(*commands(keyed, tmp_path)["square"], "--authkey-file", str(keyfile))
    assert result.stdout == "Hello. Nice to see you.\n144\n"


def run_with_env(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hosepipe", *args], capture_output=True,
                          text=True, timeout=30, check=False, env={**os.environ, **env})


def test_every_client_command_honours_the_environment(keyed: ServerProcess,
                                                      tmp_path: Path) -> None:
    for name, args in commands(keyed, tmp_path).items():
        result = run_with_env(*args, HOSEPIPE_AUTHKEY=KEY.decode())
        assert result.returncode == 0, (name, result.stderr)


def test_no_key_is_reported_in_words(keyed: ServerProcess, tmp_path: Path) -> None:
    for name, args in commands(keyed, tmp_path).items():
        result = run_cli(*args)
        assert result.returncode == 1, name
        assert result.stderr == f"hosepipe: error: {AUTH_REQUIRED}\n", name
        assert "CHALLENGE" not in result.stdout + result.stderr


def test_a_key_for_a_server_that_wants_none_is_explained(keyfile: Path) -> None:
    server = start_server("square@tcp://127.0.0.1:0")
    try:
        result = run_cli("square", "-a", server.address("square"), "-t", "1", "3",
                         "--authkey-file", str(keyfile))
        assert result.returncode == 1
        assert "no authkey challenge from the server" in result.stderr
    finally:
        assert server.stop() == 0


def test_the_library_takes_authkey(keyed: ServerProcess) -> None:
    assert list(classic.square(keyed.address("square"), ["3"], authkey=KEY)) == [
        "Hello. Nice to see you.", "9"]
    assert classic.echo(keyed.address("echo"), "hi", authkey=KEY) == "hi"
    with classic.connect(keyed.address("upper"), authkey=KEY) as line:
        line.send_line("ni")
        assert line.read_line() == "NI"
    with pytest.raises(AuthRequired):
        classic.daytime(keyed.address("daytime"))

    async def talk() -> str:
        async with await AsyncClient.connect(keyed.address("upper"), authkey=KEY) as client:
            return str(await client.request("knights"))

    assert asyncio.run(talk()) == "KNIGHTS"
    with pytest.raises(AuthRequired):
        asyncio.run(AsyncClient.connect(keyed.address("upper")))
    with pytest.raises(AuthRequired, match="requires an authkey"):
        Client(keyed.address("upper"))


@pytest.mark.parametrize(
    ("written", "key"),
    [
        (KEY + b"\n", KEY),  # one trailing newline is dropped (echo KEY > file)
        (KEY, KEY),  # none: the file is the key
        (KEY + b"\n\n", KEY + b"\n"),  # only one: a second newline is part of the key
        (KEY + b"\r\n", KEY + b"\r"),  # a CR is part of the key
    ],
)
def test_how_a_key_files_trailing_newline_is_treated(tmp_path: Path, written: bytes,
                                                     key: bytes) -> None:
    path = tmp_path / "key"
    path.write_bytes(written)
    assert read_authkey(str(path)) == key
    # the standard library's Listener, given the key as bytes, accepts the file's key
    listener = StdListener(("127.0.0.1", 0), authkey=key)
    host, port = listener.address

    def serve() -> None:
        try:
            with listener.accept() as conn:
                conn.send(conn.recv().upper())
        except (AuthenticationError, EOFError, OSError):
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with Client(f"tcp://{host}:{port}", authkey=read_authkey(str(path)), codec="pickle",
                    raw=True) as client:
            assert client.request("ni") == "NI"
    finally:
        thread.join(10)
        listener.close()


def test_server_key_file_newline_with_the_stdlib_client(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(KEY + b"\n\n")  # the key is KEY + one newline
    server = start_server("square@tcp://127.0.0.1:0", "--authkey-file", str(path))
    try:
        port = int(server.address("square").rsplit(":", 1)[1])
        with pytest.raises(AuthenticationError):
            StdClient(("127.0.0.1", port), authkey=KEY)
        with StdClient(("127.0.0.1", port), authkey=KEY + b"\n") as conn:
            conn.send(7)
            assert conn.recv() == {"ok": 49}
    finally:
        assert server.stop() == 0


def test_short_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"short\n")
    result = run_cli("square", "--authkey-file", str(path), "3")
    assert result.returncode == 2
    assert re.search("at least 16 bytes", result.stderr)
    with pytest.raises(HosepipeError):
        read_authkey(str(path))


def test_book_takes_authkey_file(keyfile: Path, tmp_path: Path) -> None:
    server = start_server("book@tcp://127.0.0.1:0", "--db", f"sqlite://{tmp_path}/b.sqlite3",
                          "--authkey-file", str(keyfile))
    try:
        address = server.address("book")
        result = run_cli("book", "-a", address, "--authkey-file", str(keyfile),
                         "add", "Arthur", "1", "High St", "Camelot", "555")
        assert result.returncode == 0, result.stderr
        result = run_with_env("book", "-a", address, "find", "Arthur",
                              HOSEPIPE_AUTHKEY=KEY.decode())
        assert result.stdout == "Arthur : 1,High St,Camelot,555\n", result.stderr
        result = run_cli("book", "-a", address, "list")
        assert result.returncode == 1
        assert AUTH_REQUIRED in result.stderr
    finally:
        assert server.stop() == 0
