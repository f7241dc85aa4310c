"""SIGTERM under load, reaping of forked children, and the pipe:/exec:/stdio: forms."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from pathlib import Path

import psutil
import pytest

from hosepipe import Client, ConnectError, classic
from hosepipe.services import Square
from tests.conftest import run_cli, start_server
from tests.waiting import DEADLINE, recv_until, wait_for

MODELS = ["iterative", "thread", "fork", "select", "async"]


@pytest.mark.parametrize("model", MODELS)
def test_sigterm_under_load_answers_every_request_and_exits_0(model: str) -> None:
    server = start_server("square@tcp://127.0.0.1:0", "--model", model, "--grace", "20")
    address = server.address("square")
    clients = 1 if model == "iterative" else 6
    per_client = 300
    answered = [0] * clients
    errors: list[BaseException] = []
    started = threading.Barrier(clients + 1)
    signalled = threading.Event()  # client 0 holds its conversation open across the signal

    def work(index: int) -> None:
        try:
            with Client(address) as client:
                started.wait()
                for n in range(per_client):
                    assert client.request(n) == n * n
                    answered[index] += 1
                    if n == per_client // 3 and index == 0:
                        assert signalled.wait(DEADLINE), "the server never began to stop"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        started.wait()
        wait_for(lambda: answered[0] > per_client // 3 or errors, "client 0 to be mid-way")
        server.process.send_signal(signal.SIGTERM)
        server.wait_for_log("shutting down: no new connections")  # listeners closed
    finally:
        signalled.set()
    with pytest.raises(ConnectError):  # no new connections once shutting down
        Client(address, timeout=2)
    for thread in threads:
        thread.join(DEADLINE)
    code = server.stop()
    assert not errors, errors
    assert answered == [per_client] * clients
    assert code == 0


def test_fork_model_leaves_no_zombie() -> None:
    server = start_server("upper@tcp://127.0.0.1:0", "daytime@tcp://127.0.0.1:0",
                          "--model", "fork")
    parent = psutil.Process(server.process.pid)
    try:
        for _ in range(20):
            classic.daytime(server.address("daytime"))
        wait_for(lambda: not parent.children(), "the daytime children to end", DEADLINE)
        port = int(server.address("upper").rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        for sock in held:  # each is answered, so its child is there
            sock.sendall(b"ping\n")
            assert recv_until(sock, b"\n") == b"PING\n"
        assert len(parent.children()) == 5  # one child per open connection
        for sock in held:
            sock.close()
        wait_for(lambda: not parent.children(), "the children to end", DEADLINE)
        children = parent.children()
        zombies = [c for c in children if c.status() == psutil.STATUS_ZOMBIE]
        assert zombies == [] and children == []
    finally:
        assert server.stop() == 0


def test_grace_period_cuts_conversations_that_do_not_end() -> None:
    server = start_server("echo@tcp://127.0.0.1:0", "--model", "thread", "--grace", "0.5")
    host, port = server.address("echo")[6:].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as held:
        held.sendall(b"x")
        assert held.recv(1) == b"x"
        server.process.send_signal(signal.SIGTERM)
        held.settimeout(DEADLINE)  # the conversation never ends by itself
        assert held.recv(10) == b""  # cut once the grace period is over
        assert server.process.wait(DEADLINE) == 0
    server.stop()


@pytest.mark.parametrize("model", ["iterative", "thread"])
def test_a_cut_at_shutdown_is_not_the_peers_end_of_stream(model: str, tmp_path: Path) -> None:
    # A conversation on a blocking thread is cut by shutting its socket down, which a
    # receive reads as an empty string. Taken for the peer's end of stream, it made the
    # half-typed last line a whole command: the add below was carried out at shutdown.
    db = f"sqlite://{tmp_path}/book.db"
    server = start_server("book@tcp://127.0.0.1:0", "--db", db, "--model", model,
                          "--grace", "0.5")
    host, port = server.address("book")[6:].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as held:
        held.sendall(b"fnd:Arthur\n")  # a line client, from its first line on
        assert recv_until(held, b"\n") == b"Sorry, no entry for: Arthur\n"
        held.sendall(b"add:Arthur,1,Palace Lane,Camelot,555")  # no newline: not whole
        server.process.send_signal(signal.SIGTERM)
        assert recv_until(held, lambda data: False) == b""  # cut: the end of stream
        assert server.process.wait(DEADLINE) == 0
    server.stop()
    again = start_server("book@tcp://127.0.0.1:0", "--db", db)
    try:
        host, port = again.address("book")[6:].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=DEADLINE) as sock:
            sock.sendall(b"fnd:Arthur\n")
            assert recv_until(sock, b"\n") == b"Sorry, no entry for: Arthur\n"
    finally:
        assert again.stop() == 0


@pytest.mark.parametrize("model", ["iterative", "thread", "fork"])
def test_a_conversation_that_reads_nothing_is_cut_when_the_grace_ends(model: str) -> None:
    # after the peer's end of stream the conversation stays open and reads nothing, so
    # its thread waits for a push or a deadline (idle: 300 s), not on the socket; the
    # shutdown's cut must end that wait too, or the server waits out the idle timeout
    server = start_server("tests.integration.user_services:Lingerer@tcp://127.0.0.1:0",
                          "--model", model, "--grace", "0.5", "--idle-timeout", "300")
    host, port = server.address("Lingerer")[6:].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as held:
        held.sendall(b"hello\n")
        assert recv_until(held, b"\n") == b"hello\n"
        held.shutdown(socket.SHUT_WR)  # our end of stream: the server stops reading
        assert recv_until(held, b"eof\n") == b"eof\n"  # ... and has seen it
        server.process.send_signal(signal.SIGTERM)
        assert recv_until(held, lambda data: False) == b""  # cut once the grace is over
        assert server.process.wait(DEADLINE) == 0
    server.stop()


def test_ni_over_a_pipe_to_a_forked_child() -> None:
    result = run_cli("ni", "The Knights who say Ni!", "")
    assert result.returncode == 1, result.stderr  # the empty message's answer is an error
    assert result.stdout == "Ni!\nThe Knights who say Ni!\nNi!\n"
    assert "Error: received empty message\n" in result.stderr


def test_pipe_child_is_reaped_by_the_library() -> None:
    me = psutil.Process()
    with Client("pipe:", service=Square()) as client:
        assert len(me.children()) == 1
        assert client.request(12) == 144
    assert me.children() == []


def test_exec_address_runs_a_server_on_its_stdio() -> None:
    command = f"exec:{sys.executable} -m hosepipe -q serve upper@stdio:"
    result = run_cli("upper", "-a", command, "knights", "who say ni")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "KNIGHTS\nWHO SAY NI\n"


def test_server_reports_port_in_use_clearly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", f"echo@tcp://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "cannot bind tcp://127.0.0.1" in result.stderr


def test_client_reports_refused_connection_clearly() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = run_cli("upper", "-a", f"127.0.0.1:{port}", "x")
    assert result.returncode == 1
    assert "cannot connect to tcp://127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_unix_socket_file_is_removed_on_exit(tmp_path: os.PathLike[str]) -> None:
    path = f"{tmp_path}/u.sock"
    server = start_server(f"upper@unix://{path}")
    assert os.path.exists(path)
    assert server.stop() == 0
    assert not os.path.exists(path)
