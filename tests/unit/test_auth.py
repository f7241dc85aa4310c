"""The authkey handshake against the standard library's own implementation."""

from __future__ import annotations

import hmac
import os
import socket
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hosepipe.wire.auth import FAILURE, WELCOME, AuthFailed, Handshake, Role
from hosepipe.wire.framing import FrameDecoder, encode_frame

KEY = b"swordfish"


def drive(handshake: Handshake, sock: socket.socket) -> None:
    """Run our side over a real socket, one frame at a time."""
    decoder = FrameDecoder(256)
    for message in handshake.start():
        sock.sendall(encode_frame(message))
    while not handshake.done:
        while (frame := decoder.next_frame()) is None:
            data = sock.recv(4096)
            if not data:
                raise AuthFailed("peer closed")
            decoder.feed(data)
        try:
            replies = handshake.receive(frame)
        except AuthFailed as exc:
            if exc.reply:
                sock.sendall(encode_frame(exc.reply))
            raise
        for message in replies:
            sock.sendall(encode_frame(message))


def run_stdlib(role: str, key: bytes, sock: socket.socket, errors: list[BaseException]) -> None:
    connection = Connection(sock.detach())
    try:
        if role == "server":  # what Listener.accept does
            deliver_challenge(connection, key)
            answer_challenge(connection, key)
        else:  # what Client() does
            answer_challenge(connection, key)
            deliver_challenge(connection, key)
    except (AuthenticationError, EOFError, OSError) as exc:
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.parametrize("our_role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize(("ours", "theirs", "ok"), [(KEY, KEY, True), (KEY, b"wrong", False)])
def test_against_the_standard_library(our_role: Role, ours: bytes, theirs: bytes, ok: bool) -> None:
    mine, peer = socket.socketpair()
    errors: list[BaseException] = []
    stdlib_role = "client" if our_role is Role.SERVER else "server"
    thread = threading.Thread(target=run_stdlib, args=(stdlib_role, theirs, peer, errors))
    thread.start()
    try:
        if ok:
            drive(Handshake(ours, our_role, os.urandom(40)), mine)
        else:
            with pytest.raises(AuthFailed):
                drive(Handshake(ours, our_role, os.urandom(40)), mine)
    finally:
        mine.close()
        thread.join(10)
    assert (errors == []) == ok


def test_legacy_md5_can_be_refused() -> None:
    server = Handshake(KEY, Role.SERVER, os.urandom(40), allow_md5=False)
    (challenge,) = server.start()
    legacy = hmac.new(KEY, challenge[len(b"#CHALLENGE#"):], "md5").digest()
    with pytest.raises(AuthFailed, match="legacy") as info:
        server.receive(legacy)
    assert info.value.reply == FAILURE


def test_two_hosepipe_sides_agree_with_sha256() -> None:
    server = Handshake(KEY, Role.SERVER, os.urandom(40))
    client = Handshake(KEY, Role.CLIENT, os.urandom(40))
    to_client = server.start()
    while not (server.done and client.done):
        to_server = [m for message in to_client for m in client.receive(message)]
        to_client = [m for message in to_server for m in server.receive(message)]
    assert not server.legacy_peer and not client.legacy_peer


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_garbage_is_refused_with_our_own_error(garbage: bytes) -> None:
    for role in Role:
        handshake = Handshake(KEY, role, os.urandom(40))
        handshake.start()
        try:
            handshake.receive(garbage)
        except AuthFailed:
            continue
        assert role is Role.CLIENT and garbage.startswith(b"#CHALLENGE#")  # a well-formed one


def test_oversize_message_refused() -> None:
    with pytest.raises(AuthFailed, match="256"):
        Handshake(KEY, Role.SERVER, os.urandom(40)).receive(b"x" * 257)
    assert WELCOME == b"#WELCOME#"
