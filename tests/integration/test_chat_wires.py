"""``hosepipe chat`` over every stream address, and ``--room`` against room servers.

``--room`` is tested against a small room server written in the test (plain sockets,
the line protocol of docs/protocols.md: a nickname prompt, ``/join`` and the nickname,
``[nick] text`` lines, ``/quit``), which sees every line the client sends, and against
the real ``room`` service with two members.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pexpect
import pytest
import trustme

from tests.conftest import start_server
from tests.integration.chat_helpers import (
    ENV,
    PROMPT,
    at_prompt,
    chat,
    ended,
    listening,
    running,
)
from tests.lines import SocatLine


@pytest.fixture
def certificates(tmp_path: Path) -> tuple[Path, Path]:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    return tmp_path / "ca.pem", tmp_path / "server.pem"


@pytest.mark.parametrize("scheme", ["unix", "fifo", "tls"])
def test_chat_over(scheme: str, tmp_path: Path, certificates: tuple[Path, Path]) -> None:
    ca, cert = certificates
    address = {"unix": f"unix://{tmp_path}/chat.sock", "fifo": f"fifo://{tmp_path}/chat",
               "tls": "tls://127.0.0.1:0"}[scheme]
    listen_args = ("--cert", str(cert)) if scheme == "tls" else ()
    client_args = ("--ca", str(ca)) if scheme == "tls" else ()
    with listening(*listen_args, address=address) as (server, bound), \
            running(chat(bound, *client_args)) as client:
        assert bound.startswith(f"{scheme}://")
        server.expect("Connection from:")
        client.expect(PROMPT)
        client.sendline(f"over {scheme}")
        server.expect(f"from connected user: over {scheme}\r\n")
        server.sendline("and back")
        client.expect("Received from server: and back\r\n")
        client.sendline("q")
        assert ended(client) == 0
        server.expect(r"\*\*\* peer left")
        server.sendline("q")  # nobody connected: q stops listening
        assert ended(server) == 0


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_chat_over_a_serial_line(tmp_path: Path) -> None:
    line = SocatLine(tmp_path)
    try:
        with listening(address=f"serial://{line.a}") as (server, _), \
                running(chat(f"serial://{line.b}")) as client:
            server.expect("Connection from: serial://")
            client.expect(PROMPT)
            client.sendline("down the wire")
            server.expect("from connected user: down the wire\r\n")
            server.sendline("up the wire")
            client.expect("Received from server: up the wire\r\n")
            at_prompt(client)
            client.sendcontrol("d")  # a line has no end of stream: the far side stays
            assert ended(client) == 0
            server.sendcontrol("c")
            assert ended(server) == 0
    finally:
        line.close()


def test_the_listening_side_answers_typing_while_nobody_is_there() -> None:
    with listening() as (server, bound):
        server.expect(PROMPT)
        server.sendline("anyone?")
        server.expect_exact(f"*** nobody is connected yet (waiting at {bound})")
        at_prompt(server)
        server.sendcontrol("d")
        assert ended(server) == 0


class FakeRoom:
    """One member at a time: asks for a nickname, takes /join (before the nickname: the
    room it enters), says every other line back as ``[nick] text``, and records what it
    was sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.lines: list[str] = []
        self.member: socket.socket | None = None
        self.joined = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        self.member = conn
        conn.settimeout(15)
        conn.sendall(b"Welcome! Your nickname? \n")
        reader = conn.makefile("rb")
        nick = room = ""
        for raw in reader:
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if not nick and line.startswith("/join "):  # before the nickname: the room
                room = line[6:]
            elif not nick:
                nick = line
                conn.sendall(f"*** {nick} joined {room or 'lobby'}\n".encode())
                self.joined.set()
            elif line.startswith("/join "):
                conn.sendall(f"*** {nick} joined {line[6:]}\n".encode())
                self.joined.set()
            elif line == "/quit":
                conn.sendall(b"*** bye\n")
                break
            else:
                conn.sendall(f"[{nick}] {line}\n".encode())
        reader.close()
        conn.close()

    def say(self, text: str) -> None:
        assert self.member is not None
        self.member.sendall(text.encode() + b"\n")

    def close(self) -> None:
        self.thread.join(15)
        self.sock.close()


@pytest.fixture
def room() -> Iterator[FakeRoom]:
    fake = FakeRoom()
    try:
        yield fake
    finally:
        fake.close()


def test_chat_joins_a_room(room: FakeRoom) -> None:
    with running(chat("--room", "lobby", "--nick", "arthur", "-a", room.address)) as member:
        member.expect(r"Welcome! Your nickname\? \r\n")
        member.expect(r"\*\*\* arthur joined lobby\r\n")
        member.expect(PROMPT)
        member.sendline("hello, room")
        member.expect(r"\[arthur\] hello, room\r\n")
        assert room.joined.wait(15)
        room.say("[bedivere] welcome, arthur")
        member.expect(r"\[bedivere\] welcome, arthur\r\n")
        member.sendline("q")
        member.expect(r"\*\*\* bye\r\n")  # the room's last line is still shown
        assert ended(member) == 0
    room.thread.join(15)
    assert room.lines == ["/join lobby", "arthur", "hello, room", "/quit"]


def test_room_nickname_defaults_to_user(room: FakeRoom) -> None:
    env = {**ENV, "USER": "gawain"}
    with running(chat("--room", "green", room.address, env=env)) as member:
        member.expect(r"\*\*\* gawain joined green\r\n")
        at_prompt(member)
        member.sendcontrol("c")
        assert ended(member) == 0
    room.thread.join(15)
    assert room.lines[:2] == ["/join green", "gawain"]
    assert room.lines[-1] == "/quit"


@contextmanager
def arthur_in_den() -> Iterator[tuple[str, pexpect.spawn]]:
    """A room server with ``chat --room den --nick arthur`` in it: (its address, arthur).
    At the end arthur quits with q and the server stops."""
    server = start_server("room@tcp://127.0.0.1:0")
    address = server.address("room")
    try:
        with running(chat("--room", "den", "--nick", "arthur", "-a", address)) as arthur:
            arthur.expect(r"\* in den: arthur\r\n")
            at_prompt(arthur)
            yield address, arthur
            at_prompt(arthur)
            arthur.sendline("q")
            assert ended(arthur) == 0
    finally:
        assert server.stop() == 0


def test_two_chat_members_talk_through_the_real_room_service() -> None:
    with arthur_in_den() as (address, arthur):
        with running(chat("--room", "den", "--nick", "bedivere", "-a", address)) as bed:
            arthur.expect(r"\* bedivere joined den\r\n")
            bed.expect(r"\* in den: (arthur, bedivere|bedivere, arthur)\r\n")
            at_prompt(bed)
            bed.sendline("ni!")
            arthur.expect(r"\[bedivere\] ni!\r\n")
            at_prompt(arthur)
            arthur.sendline("/me bows")
            bed.expect(r"\* arthur bows\r\n")
            at_prompt(bed)
            bed.sendline("q")
            assert ended(bed) == 0
        arthur.expect(r"\* bedivere left den")


def test_a_taken_nickname_is_typed_again_and_the_room_kept() -> None:
    with arthur_in_den() as (address, arthur):
        with running(chat("--room", "den", "--nick", "arthur", "-a", address)) as other:
            other.expect(r"! nickname arthur is taken in den; your nickname\?\r\n")
            at_prompt(other)
            other.sendline("galahad")
            other.expect(r"\* in den: arthur, galahad\r\n")
            arthur.expect(r"\* galahad joined den\r\n")
            at_prompt(other)
            other.sendline("q")
            assert ended(other) == 0
        arthur.expect(r"\* galahad left den")
