"""The authkey challenge on real sockets, both ways with the standard library."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client as StdClient
from multiprocessing.connection import Listener as StdListener
from pathlib import Path

import pytest

from hosepipe import Client, ProtocolError
from hosepipe.wire.auth import AuthFailed
from tests.conftest import ServerProcess, run_cli, start_server
from tests.waiting import recv_exactly, recv_to_eof

KEY = b"a-very-secret-key-of-enough-length"


@pytest.fixture(params=["thread", "fork", "select", "async"])
def keyed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    keyfile = tmp_path / "key"
    keyfile.write_bytes(KEY + b"\n")
    server = start_server("upper@tcp://127.0.0.1:0", "square@tcp://127.0.0.1:0",
                          "--authkey-file", str(keyfile), "--model", request.param,
                          "--handshake-timeout", "0.5")
    yield server
    assert server.stop() == 0


def port(server: ServerProcess, service: str) -> int:
    return int(server.address(service).rsplit(":", 1)[1])


def read_challenge(sock: socket.socket) -> bytes:
    """The server's whole challenge frame (however the network splits it)."""
    size = int.from_bytes(recv_exactly(sock, 4), "big")
    body = recv_exactly(sock, size)
    assert body.startswith(b"#CHALLENGE#"), body
    return body


def test_stdlib_client_calls_a_hosepipe_service(keyed: ServerProcess) -> None:
    with StdClient(("127.0.0.1", port(keyed, "square")), authkey=KEY) as conn:
        for n in (3, "12", -4):
            conn.send(n)  # pickled: allowed after the challenge
            assert conn.recv() == {"ok": int(n) ** 2}


def test_wrong_key_fails_fast_and_is_logged(keyed: ServerProcess) -> None:
    # fast: the failed challenge itself is reported (not a timeout, which raises others)
    with pytest.raises(AuthenticationError):
        StdClient(("127.0.0.1", port(keyed, "upper")), authkey=b"not-the-key-at-all")
    with pytest.raises(AuthFailed):
        Client(keyed.address("upper"), authkey=b"not-the-key-at-all")
    keyed.stop()
    assert "failed the authkey challenge" in keyed.log()


def test_hosepipe_client_with_the_key(keyed: ServerProcess) -> None:
    with Client(keyed.address("upper"), authkey=KEY) as client:
        assert client.request("knights") == "KNIGHTS"
    with Client(keyed.address("square"), authkey=KEY, codec="pickle") as client:
        assert client.request(7) == 49  # pickle too, now that we are known


def test_no_key_is_told_why(keyed: ServerProcess) -> None:
    with pytest.raises(ProtocolError, match="requires an authkey"):
        Client(keyed.address("upper"))


def test_silent_peer_is_dropped_at_the_handshake_deadline(keyed: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", port(keyed, "upper")), timeout=10) as sock:
        # the challenge, then nothing until the server gives up: at the handshake deadline
        # (0.5 s), as no other limit (idle 300 s, message 60 s) would within DEADLINE
        assert recv_to_eof(sock).startswith(b"\x00\x00\x00")


def test_a_trickled_handshake_is_cut_at_the_handshake_deadline(keyed: ServerProcess) -> None:
    """A byte every 0.2 s keeps an idle deadline at bay, not the handshake's: the whole
    handshake is one message, bounded by handshake_timeout (0.5 s here)."""
    with socket.create_connection(("127.0.0.1", port(keyed, "upper")), timeout=10) as sock:
        sock.settimeout(0.2)
        answer = b"\x00\x00\x00\x30" + b"#DIGEST#" + b"x" * 40  # a 52-byte frame, slowly
        cut = False
        for byte in answer:  # bounded: 52 bytes, 0.2 s each at most
            try:
                sock.sendall(bytes([byte]))
                while sock.recv(4096):  # the challenge; b"" once cut
                    pass
                cut = True
                break
            except TimeoutError:
                continue
            except OSError:
                cut = True
                break
        assert cut, "the server let a trickled handshake run past its deadline"


def test_oversize_pre_authentication_frame_is_refused(keyed: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", port(keyed, "upper")), timeout=10) as sock:
        read_challenge(sock)
        sock.sendall((100_000).to_bytes(4, "big"))  # announce 100 kB before authenticating
        assert recv_to_eof(sock) == b""


def test_hosepipe_client_calls_a_stdlib_listener() -> None:
    listener = StdListener(("127.0.0.1", 0), authkey=KEY)
    host, listen_port = listener.address

    def serve() -> None:
        with listener.accept() as conn:
            while True:
                try:
                    value = conn.recv()
                except EOFError:
                    return
                conn.send({"doubled": value * 2})

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with Client(f"tcp://{host}:{listen_port}", authkey=KEY, codec="pickle", raw=True) as c:
            assert c.request(21) == {"doubled": 42}
            assert c.request("ni") == {"doubled": "nini"}
    finally:
        thread.join(10)
        listener.close()


def test_pickle_refused_without_a_key(tmp_path: Path) -> None:
    server = start_server("upper@tcp://127.0.0.1:0")
    try:
        with pytest.raises(ProtocolError, match="pickle is accepted only after"):
            Client(server.address("upper"), codec="pickle")
        with StdClient(("127.0.0.1", port(server, "upper"))) as conn:  # no key at all
            conn.send("ni")
            assert conn.recv()["error"] == "refused"
    finally:
        assert server.stop() == 0


def test_datagram_binding_with_a_key_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(KEY)
    result = run_cli("serve", "echo@udp://127.0.0.1:0", "--authkey-file", str(tmp_path / "key"))
    assert result.returncode == 2  # a usage error: nothing was served
    assert "cannot run the authkey challenge" in result.stderr


def test_max_preauth_is_configurable(tmp_path: Path) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_bytes(KEY)
    server = start_server("upper@tcp://127.0.0.1:0", "--authkey-file", str(keyfile),
                          "--max-preauth", "64", "--model", "select")
    try:
        with Client(server.address("upper"), authkey=KEY) as client:  # answers are 40 bytes
            assert client.request("ok") == "OK"
        with socket.create_connection(("127.0.0.1", port(server, "upper")), timeout=10) as sock:
            read_challenge(sock)
            sock.sendall((65).to_bytes(4, "big") + b"x" * 65)
            assert recv_to_eof(sock) in (b"", b"\x00\x00\x00\t#FAILURE#")
    finally:
        assert server.stop() == 0
