"""``hosepipe chat``: two people at two pseudo-terminals, both typing at once.

Each side is a real process in a real pty (pexpect), with prompt_toolkit's line editor,
talking over a real socket; the tutorial's programs (tests.peers.chat_server and
chat_client) and raw sockets are the other peers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pexpect
import pytest

from tests.conftest import run_cli
from tests.integration.chat_helpers import (
    PROMPT,
    at_prompt,
    chat,
    connect,
    ended,
    listening,
    read_to_end,
    read_until,
    running,
    say,
    spawn,
)


def test_both_sides_type_at_once_and_lines_cross() -> None:
    with listening("--upper") as (server, address), running(chat(address)) as client:
        server.expect("Connection from: 127.0.0.1:")
        client.expect(PROMPT)
        # both type before either has read anything: the lines cross on the wire
        client.sendline("hello from the client")
        server.sendline("hello from the server")
        server.expect("from connected user: hello from the client\r\n")
        server.expect("Received from User: HELLO FROM THE CLIENT\r\n")
        client.expect("Received from server: hello from the server\r\n")
        # a line arriving while the person is half way through theirs tears nothing
        client.send("half")
        server.sendline("interruption")
        client.expect("Received from server: interruption\r\n")
        client.sendline(" and the rest")
        server.expect("from connected user: half and the rest\r\n")
        for n in range(5):  # several in a row, in order
            client.sendline(f"line {n}")
        for n in range(5):
            server.expect(f"from connected user: line {n}\r\n")
        client.sendline("q")
        assert ended(client) == 0
        server.expect(r"\*\*\* peer left")
        server.expect("waiting for the next person")
        server.sendcontrol("c")
        assert ended(server) == 0


@pytest.mark.parametrize("leave", ["q", "ctrl-d", "ctrl-c"])
def test_the_client_leaves_and_the_server_is_told(leave: str) -> None:
    with listening() as (server, address), running(chat(address)) as client:
        client.expect(PROMPT)
        server.expect("Connection from:")
        say(client, "bye now")
        server.expect("from connected user: bye now")
        _leave(client, leave)
        assert ended(client) == 0
        server.expect(r"\*\*\* peer left")
        # the server waits for the next person, who is served as the first was
        with running(chat(address)) as second:
            server.expect("Connection from:")
            second.expect(PROMPT)
            second.sendline("me next")
            server.expect("from connected user: me next")
            server.sendline("welcome")
            second.expect("Received from server: welcome")
        server.expect("waiting for the next person")
        at_prompt(server)
        server.sendcontrol("d")
        assert ended(server) == 0


@pytest.mark.parametrize("leave", ["q", "ctrl-d", "ctrl-c"])
def test_the_server_leaves_and_the_client_is_told(leave: str) -> None:
    with listening("--once") as (server, address), running(chat(address)) as client:
        server.expect("Connection from:")
        server.expect(PROMPT)
        say(server, "closing time")
        client.expect("Received from server: closing time")
        _leave(server, leave)
        client.expect(r"\*\*\* peer left")
        assert ended(client) == 0
        assert ended(server) == 0


def _leave(child: pexpect.spawn, how: str) -> None:
    if how == "q":
        child.sendline("q")
    elif how == "ctrl-d":
        child.sendcontrol("d")
    else:
        child.sendcontrol("c")


def test_the_tutorials_client_against_chat_listen() -> None:
    with listening("--upper") as (server, address):
        port = address.rsplit(":", 1)[1]
        with running(spawn(sys.executable, "-m", "tests.peers.chat_client", port)) as tut:
            server.expect("Connection from: 127.0.0.1:")
            tut.expect("type message: ")
            tut.sendline("Hello Server")
            server.expect("from connected user: Hello Server\r\n")
            server.expect("Received from User: HELLO SERVER\r\n")
            server.sendline("hello client")
            # sent bare, as the tutorial's server sends: no stray newline on its screen
            tut.expect("Received from server: hello client\r\ntype message: ")
            tut.sendline("second")
            server.expect("from connected user: second\r\n")
            server.sendline("again")
            tut.expect("Received from server: again\r\ntype message: ")
            tut.sendline("q")
            tut.expect(pexpect.EOF)
            server.expect(r"\*\*\* peer left")


@pytest.mark.parametrize("eol", ["auto", "none"])
def test_chat_against_the_tutorials_server(eol: str) -> None:
    with running(spawn(sys.executable, "-m", "tests.peers.chat_server")) as tut:
        tut.expect(r"(\d+)\r\n")
        address = f"tcp://127.0.0.1:{tut.match.group(1)}"
        with running(chat(address, "--eol", eol)) as client:
            tut.expect("Connection from: ")
            client.expect(PROMPT)
            client.sendline("hello")
            # auto: a newline until the peer is seen to send bare messages
            tut.expect("from connected user: hello\r\n" + ("\r\n" if eol == "auto" else ""))
            tut.expect("Received from User: HELLO\r\n")
            tut.expect("type message: ")
            tut.sendline("hi there")
            client.expect("Received from server: hi there\r\n")
            client.sendline("and again")
            tut.expect("from connected user: and again\r\nReceived from User: AND AGAIN\r\n")
            tut.expect("type message: ")
            tut.sendline("ok")
            client.expect("Received from server: ok\r\n")
            client.sendline("q")
            assert ended(client) == 0
            tut.expect(pexpect.EOF)  # the tutorial's server ends with its client


@pytest.mark.interop
def test_nc_against_chat_listen() -> None:
    nc = shutil.which("nc")
    if nc is None:
        pytest.skip("nc (netcat-openbsd) is not installed")
    with listening() as (server, address):
        port = address.rsplit(":", 1)[1]
        with running(spawn(nc, "127.0.0.1", port)) as peer:
            server.expect("Connection from:")
            peer.sendline("from netcat")
            server.expect("from connected user: from netcat\r\n")
            server.sendline("to netcat")
            peer.expect("to netcat\r\n")
            peer.sendcontrol("c")
            server.expect(r"\*\*\* peer left")


@pytest.mark.interop
def test_telnet_against_chat_listen() -> None:
    telnet = shutil.which("telnet")
    if telnet is None:
        pytest.skip("telnet is not installed")
    with listening() as (server, address):
        port = address.rsplit(":", 1)[1]
        with running(spawn(telnet, "127.0.0.1", port)) as peer:
            peer.expect("Escape character is")
            server.expect("Connection from:")
            peer.sendline("from telnet")  # telnet sends CR LF
            server.expect("from connected user: from telnet\r\n")
            server.sendline("to telnet")
            peer.expect("to telnet\r\n")
            peer.sendcontrol("]")
            peer.expect("telnet> ")
            peer.sendline("quit")
            peer.expect(pexpect.EOF)
            server.expect(r"\*\*\* peer left")


def test_a_second_client_is_refused_by_default() -> None:
    with listening() as (server, address), running(chat(address)) as first:
        server.expect("Connection from:")
        first.expect(PROMPT)
        with connect(address) as second:
            assert read_to_end(second) == b"busy: someone else is chatting; try again later\n"
        first.sendline("still here")
        server.expect("from connected user: still here")


def test_queued_clients_wait_their_turn() -> None:
    with listening("--queue", "1") as (server, address), running(chat(address)) as first:
        server.expect("Connection from:")
        first.expect(PROMPT)
        with connect(address) as second, connect(address) as third:
            assert b"please wait" in read_until(second, b"\n")
            assert read_to_end(third).startswith(b"busy:")
            second.sendall(b"typed while waiting\n")
            first.sendline("q")
            server.expect(r"\*\*\* peer left")
            server.expect("Connection from:")
            server.expect("from connected user: typed while waiting")
            server.sendline("your turn")
            read_until(second, b"your turn\n")


def test_a_queued_client_that_hangs_up_frees_its_place_at_once() -> None:
    with listening("--queue", "1") as (server, address), running(chat(address)) as first:
        server.expect("Connection from:")
        first.expect(PROMPT)
        with connect(address) as second:
            assert b"please wait" in read_until(second, b"\n")
        # its place is free as soon as the listener sees the hang-up: a later client is
        # queued, not refused (each refused try is answered "busy" and closed)
        deadline = time.monotonic() + 15
        while True:
            assert time.monotonic() < deadline, "the place of a client that left stayed taken"
            third = connect(address)
            notice = read_until(third, b"\n")
            if b"please wait" in notice:
                break
            assert notice.startswith(b"busy:")
            third.close()
        with third:
            third.sendall(b"third here\n")
            first.sendline("q")
            server.expect(r"\*\*\* peer left")
            server.expect("Connection from:")  # the third: the second is not served
            server.expect("from connected user: third here")
            assert "peer left" not in (server.before or "")


def test_escape_sequences_from_the_peer_are_shown_neutralised() -> None:
    with listening() as (server, address), connect(address) as peer:
        server.expect("Connection from:")
        peer.sendall(b"\x1b]0;owned\x07\x1b[2Jred\xc2\x9b\xe2\x80\xaeabc \xff end\n")
        server.expect_exact("from connected user: \\x1b]0;owned\\x07\\x1b[2Jred"
                            "\\x9b\\u202eabc \ufffd end\r\n")
        assert "\x1b]0;owned" not in (server.before or "")


def test_max_line_is_enforced_both_ways() -> None:
    with listening("--max-line", "100") as (server, address), connect(address) as peer:
        server.expect("Connection from:")
        server.expect(PROMPT)
        server.sendline("x" * 150)
        server.expect(r"\*\*\* not sent: longer than --max-line \(100 B\)")
        peer.sendall(b"y" * 101)
        assert read_to_end(peer) == b"error: line longer than 100 B\n"
        server.expect(r"\*\*\* the peer sent a line longer than 100 B")


def test_plain_lines_when_stdin_is_not_a_terminal() -> None:
    with listening() as (server, address):
        process = subprocess.Popen(
            [sys.executable, "-m", "hosepipe", "chat", address], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        server.expect("Connection from:")
        assert process.stdin is not None and process.stdout is not None
        assert process.stdout.readline().startswith("Connected to: ")
        process.stdin.write("from a pipe\n")
        process.stdin.flush()
        server.expect("from connected user: from a pipe")
        server.sendline("to a pipe")
        assert process.stdout.readline() == "Received from server: to a pipe\n"
        process.stdin.close()  # end of input ends it
        assert process.wait(15) == 0
        server.expect(r"\*\*\* peer left")
        process.stdout.close()
        assert process.stderr is not None
        process.stderr.close()


@pytest.mark.parametrize(("args", "message"), [
    ((), "needs an ADDRESS"),
    (("--listen", "udp://127.0.0.1:0"), "takes a tcp, tls, unix, fifo, serial address"),
    (("--listen", "tls://127.0.0.1:0"), "needs --cert"),
    (("--listen", "--room", "x", "127.0.0.1:0"), "does not go with --listen"),
])
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = run_cli("chat", *args)
    assert result.returncode == 2
    assert message in result.stderr
