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
from hosepipe.transports.serial_streams import TtyStream
from hosepipe.transports.streams import FdStream, SocketStream
from hosepipe.transports.tls import secure_accepted
from tests.lines import SocatLine

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


def fifo_pair(tmp: Path) -> Pair:
    """A client's pair of FIFOs, registered with a fifo:// listener and accepted by it
    (the client's connect waits for the listener, so it runs on a thread)."""
    listener = open_listener(parse_address(f"fifo://{tmp}/conformance.fifo"))
    clients: list[Stream] = []
    connector = threading.Thread(target=lambda: clients.append(
        connect_stream(listener.bound, timeout=10)))  # type: ignore[union-attr]
    connector.start()
    try:
        accepted = None
        for _ in range(2000):
            accepted = listener.accept_nowait()  # type: ignore[union-attr]
            if accepted is not None:
                break
            threading.Event().wait(0.005)
        connector.join(10)
    finally:
        listener.close()
    assert accepted is not None and clients, "fifo: no connection arrived"
    accepted[0].set_blocking(True)
    return clients[0], accepted[0]


def serial_pty_pair(tmp: Path) -> Pair:
    """A pseudo-terminal: its slave opened as a serial:// endpoint (the server's end),
    its master the far end of the line."""
    master, slave = os.openpty()
    try:
        endpoint = open_listener(parse_address(f"serial://{os.ttyname(slave)}"))
        server, _ = endpoint.open()  # type: ignore[union-attr]
        endpoint.close()  # the stream holds a descriptor of its own
    finally:
        os.close(slave)
    return TtyStream(master, "pty master", release=lambda: os.close(master)), server


def serial_socat_pair(tmp: Path) -> Pair:
    """Two ptys joined by socat, each end opened through serial://."""
    line = SocatLine(tmp)
    try:
        client = connect_stream(f"serial://{line.b}?baudrate=115200")
        endpoint = open_listener(parse_address(f"serial://{line.a}?baudrate=115200"))
        server, _ = endpoint.open()  # type: ignore[union-attr]
        endpoint.close()
    except BaseException:
        line.close()
        raise
    _LINES[id(client)] = line
    return client, server


def serial_url_pair(tmp: Path) -> Pair:
    """A pySerial URL handler (socket://) as the server's end: the endpoint dials a
    listening socket, whose accepted end is the far end of the line."""
    raw = socket.create_server(("127.0.0.1", 0))
    try:
        endpoint = open_listener(parse_address(
            f"serial:socket://127.0.0.1:{raw.getsockname()[1]}"))
        server, _ = endpoint.open()  # type: ignore[union-attr]
        conn, _ = raw.accept()
    finally:
        raw.close()
    return SocketStream(conn, "far end"), server


_LINES: dict[int, SocatLine] = {}


PAIRS: dict[str, Callable[[Path], Pair]] = {
    "tcp": tcp_pair,
    "unix": unix_pair,
    "tls": tls_pair,
    "memory": memory_pair,
    "pipe": pipe_pair,
    "fifo": fifo_pair,
    "serial-pty": serial_pty_pair,
    "serial-socat": serial_socat_pair,
    "serial-url": serial_url_pair,
}


@pytest.fixture(params=list(PAIRS))
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    client, server = PAIRS[request.param](tmp_path)
    try:
        yield client, server
    finally:
        client.close()
        server.close()
        line = _LINES.pop(id(client), None)
        if line is not None:
            line.close()


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["pair"])
