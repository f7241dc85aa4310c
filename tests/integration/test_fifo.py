"""fifo:// through a real ``hosepipe serve``: the tour, many clients at once under every
model that serves many, a client killed mid-conversation, a stale FIFO replaced and a
live one kept, and the FIFO's permissions."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hosepipe import AsyncClient, Client
from hosepipe.transports.base import Stream
from hosepipe.transports.connect import connect_stream
from tests.conftest import ServerProcess, run_cli, start_server

ROOT = Path(__file__).parents[2]
DEADLINE = 30.0
CLIENTS = 50


def read_line(stream: Stream) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        got = stream.receive_some(DEADLINE)
        assert got, f"end of stream after {data!r}"
        data += got
    return data


def wait_for(condition: object, what: str, seconds: float = DEADLINE) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():  # type: ignore[operator]
            return
        threading.Event().wait(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(params=["thread", "select", "async"])
def upper(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_server(f"upper@fifo://{tmp_path}/up", "--model", request.param)
    yield server
    assert server.stop() == 0, server.log()
    assert not (tmp_path / "up").exists(), "the FIFO outlived its server"


def test_the_tour(upper: ServerProcess) -> None:
    address = upper.address("upper", "fifo")
    result = run_cli("upper", "-a", address, "knights", "who say ni")
    assert (result.returncode, result.stdout) == (0, "KNIGHTS\nWHO SAY NI\n"), result.stderr


def test_fifty_clients_at_once_each_get_their_own_replies(upper: ServerProcess) -> None:
    address = upper.address("upper", "fifo")
    all_in = threading.Barrier(CLIENTS, timeout=DEADLINE)
    failures: list[str] = []

    def client(number: int) -> None:
        try:
            with connect_stream(address, timeout=DEADLINE) as stream:
                all_in.wait()  # every client connected before anyone talks
                for turn in range(5):
                    line = f"client {number} turn {turn}\n".encode()
                    stream.send_all(line, DEADLINE)
                    assert read_line(stream) == line.upper()
                stream.send_eof()
                assert stream.receive_some(DEADLINE) == b""
        except Exception as exc:  # reported below, with the client's number
            failures.append(f"client {number}: {exc!r}")
            all_in.abort()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE * 2)
    assert failures == []


def test_the_message_protocol_and_async_client(upper: ServerProcess) -> None:
    address = upper.address("upper", "fifo")
    with Client(address) as client:
        assert client.request("knights") == "KNIGHTS"

    async def call() -> str:
        async with await AsyncClient.connect(address) as client:
            return str(await client.request("who say ni"))

    assert asyncio.run(call()) == "WHO SAY NI"


def _server_fds(server: ServerProcess) -> int:
    return psutil.Process(server.process.pid).num_fds()


def _private_fifos(server: ServerProcess) -> list[str]:
    """The server's descriptors on a client's private FIFOs (connections still open)."""
    fds = Path(f"/proc/{server.process.pid}/fd")
    held = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if "hosepipe-fifo-" in target:
            held.append(target)
    return held


def server_log(server: ServerProcess) -> str:
    """What the running server has logged so far (read without moving its offset)."""
    assert server.log_file is not None
    return os.pread(server.log_file.fileno(), 1 << 20, 0).decode(errors="replace")


def test_a_client_killed_mid_conversation_leaves_nothing_behind(
        upper: ServerProcess, tmp_path: Path) -> None:
    address = upper.address("upper", "fifo")
    private = tmp_path / "client-tmp"
    private.mkdir()
    with Client(address) as warm:  # the server's own lazy set-up done before counting
        warm.request("warm")
    wait_for(lambda: "closed after" in server_log(upper), "the first connection's end")
    # the async model closes a connection's FIFOs a loop turn after it logs the end:
    # counted before that, the baseline held them, and a later count came out lower
    wait_for(lambda: not _private_fifos(upper), "the first connection's FIFOs to close")
    baseline = _server_fds(upper)
    script = ("import sys; from hosepipe.transports.connect import connect_stream\n"
              f"s = connect_stream({address!r}); s.send_all(b'half a li', 5)\n"
              "print('ready', flush=True); sys.stdin.read()")
    victim = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "TMPDIR": str(private)})
    try:
        assert victim.stdout is not None and victim.stdout.readline() == "ready\n"
        wait_for(lambda: _server_fds(upper) > baseline, "the server to hold the client")
        assert list(private.iterdir()) == [], "the client's FIFOs outlived the connect"
    finally:
        victim.kill()
        victim.wait()
        assert victim.stdin is not None and victim.stdout is not None
        victim.stdin.close()
        victim.stdout.close()
    wait_for(lambda: not _private_fifos(upper) and _server_fds(upper) == baseline,
             "the server to let go of the client")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["client-tmp", "up"]
    assert run_cli("upper", "-a", address, "still here").stdout == "STILL HERE\n"


def test_a_stale_fifo_is_replaced_and_a_live_one_kept(tmp_path: Path) -> None:
    path = tmp_path / "up"
    os.mkfifo(path)  # a dead server's leftover: nobody reads it
    server = start_server(f"upper@fifo://{path}")
    try:
        address = server.address("upper", "fifo")
        second = run_cli("serve", f"upper@fifo://{path}")
        assert second.returncode == 1
        assert "another server is listening there" in second.stderr
        assert run_cli("upper", "-a", address, "first").stdout == "FIRST\n"
    finally:
        assert server.stop() == 0, server.log()
    assert not path.exists()


def test_a_file_that_is_not_a_fifo_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes"
    path.write_text("keep me")
    result = run_cli("serve", f"upper@fifo://{path}")
    assert result.returncode == 1
    assert "a file that is not a FIFO is there" in result.stderr
    assert path.read_text() == "keep me"


@pytest.mark.parametrize(("query", "mode"), [("", 0o600), ("?mode=0660", 0o660)])
def test_the_fifo_gets_its_mode_whatever_the_umask(tmp_path: Path, query: str,
                                                   mode: int) -> None:
    server = start_server(f"upper@fifo://{tmp_path}/up{query}")
    try:
        info = os.stat(tmp_path / "up")
        assert stat.S_ISFIFO(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == mode  # the default umask (022) would drop g+w
    finally:
        assert server.stop() == 0, server.log()


def as_nobody(work: object) -> str:
    """Run ``work()`` in a forked child as user nobody; what it returned or raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            outcome = str(work())  # type: ignore[operator]
        except BaseException as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
@pytest.mark.parametrize(("query", "refused"), [("", True), ("?mode=0666", False)])
def test_the_mode_says_who_may_connect(query: str, refused: bool) -> None:
    public = Path(tempfile.mkdtemp(prefix="hosepipe-test-"))  # pytest's tmp is root's only
    public.chmod(0o755)
    server = start_server(f"upper@fifo://{public}/up{query}")
    try:
        address = server.address("upper", "fifo")

        def call() -> str:
            with connect_stream(address, timeout=DEADLINE) as stream:
                stream.send_all(b"nobody\n", DEADLINE)
                return read_line(stream).decode()

        outcome = as_nobody(call)
        if refused:
            assert outcome.startswith("ConnectError") and "permission denied" in outcome
        else:  # nobody's own private directory, accepted since others may write
            assert outcome == "NOBODY\n"
    finally:
        assert server.stop() == 0, server.log()
        public.rmdir()


def test_unreachable_fifos_are_one_clear_line(tmp_path: Path) -> None:
    missing = run_cli("upper", "-a", f"fifo://{tmp_path}/none", "x")
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("no such FIFO")
    os.mkfifo(tmp_path / "stale")
    stale = run_cli("upper", "-a", f"fifo://{tmp_path}/stale", "x")
    assert stale.returncode == 1
    assert stale.stderr.strip().endswith("no server is listening there")
