"""One suite for every transport: how to get a connected pair of each.

A transport joins the suite with one factory in :data:`PAIRS`: it returns a connected
pair of blocking streams (the client's end, the server's end), made the way hosepipe
makes them -- the server's end from the transport's own listener where it has one.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from hosepipe.address import parse_address
from hosepipe.transports.base import Stream
from hosepipe.transports.connect import connect_stream
from hosepipe.transports.listen import open_listener
from hosepipe.transports.streams import FdStream, SocketStream
from hosepipe.transports.tls import secure_accepted

Pair = tuple[Stream, Stream]


def _through_listener(address: str, **connect: object) -> Pair:
    listener = open_listener(parse_address(address))
    try:
        client = connect_stream(listener.bound, **connect)  # type: ignore[arg-type]
        accepted = None
        for _ in range(1000):  # the listener is non-blocking: poll for the connection
            accepted = listener.accept_nowait()  # type: ignore[union-attr]
            if accepted is not None:
                break
            threading.Event().wait(0.005)
        assert accepted is not None, f"{address}: no connection arrived"
        server = accepted[0]
        server.set_blocking(True)
        return client, server
    finally:
        listener.close()


def tcp_pair(tmp: Path) -> Pair:
    return _through_listener("tcp://127.0.0.1:0")


def unix_pair(tmp: Path) -> Pair:
    return _through_listener(f"unix://{tmp}/conformance.sock")


def memory_pair(tmp: Path) -> Pair:
    return _through_listener(f"memory://conformance-{os.getpid()}-{id(tmp)}")


def pipe_pair(tmp: Path) -> Pair:
    """What ``pipe:`` is, without the fork: two os.pipe() pairs."""
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    return FdStream(up_r, down_w, "child"), FdStream(down_r, up_w, "parent")


def tls_pair(tmp: Path) -> Pair:
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    raw = socket.create_server(("127.0.0.1", 0))
    port = raw.getsockname()[1]
    done: list[SocketStream] = []

    def accept() -> None:
        conn, _ = raw.accept()
        done.append(SocketStream(secure_accepted(conn, server_context, 10), "client"))

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        client = connect_stream(f"tls://127.0.0.1:{port}", tls=client_context)
    finally:
        thread.join(10)
        raw.close()
    return client, done[0]


PAIRS: dict[str, Callable[[Path], Pair]] = {
    "tcp": tcp_pair,
    "unix": unix_pair,
    "tls": tls_pair,
    "memory": memory_pair,
    "pipe": pipe_pair,
}


@pytest.fixture(params=list(PAIRS))
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    client, server = PAIRS[request.param](tmp_path)
    try:
        yield client, server
    finally:
        client.close()
        server.close()


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["pair"])
