"""Client-side connections for every address form.

:func:`connect_stream` returns a blocking :class:`~hosepipe.transports.streams.Stream`:
a socket for tcp:// and unix://, pipes for ``pipe:`` (a forked child running a
service given by the caller) and ``exec:`` (a program), or our own stdio.
Closing a stream to a child also ends the child and reaps it: no zombie, no orphan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable

from hosepipe.address import (
    Address,
    ExecAddress,
    InetAddress,
    PipeAddress,
    StdioAddress,
    UnixAddress,
    parse_address,
)
from hosepipe.errors import ConnectError, UsageError, reason_of
from hosepipe.transports.streams import FdStream, SocketStream, Stream
from hosepipe.transports.tls import client_context

__all__ = ["ChildStream", "ProcessStream", "connect_datagram", "connect_stream"]

ChildMain = Callable[[Stream], None]


def connect_stream(
    address: str | Address,
    *,
    timeout: float | None = 10.0,
    child_main: ChildMain | None = None,
    tls: ssl.SSLContext | None = None,
) -> Stream:
    """Connect to ``address``; ``child_main`` runs in the child of a ``pipe:`` address;
    ``tls`` is the client context for tls:// (default: from HOSEPIPE_TLS_*)."""
    address = parse_address(address)
    if isinstance(address, InetAddress):
        if address.is_datagram:
            raise UsageError(f"{address} is a datagram address; use connect_datagram")
        stream = _connect_socket(address, (address.host, address.port), timeout)
        if address.scheme == "tls":
            return _secure(stream, tls or client_context(), address, timeout)
        return stream
    if isinstance(address, UnixAddress):
        return _connect_socket(address, address.sockaddr, timeout)
    if isinstance(address, PipeAddress):
        if child_main is None:
            raise UsageError("pipe: needs a service to run in the child")
        return ChildStream.fork(child_main)
    if isinstance(address, ExecAddress):
        return ProcessStream.start(address.argv)
    if isinstance(address, StdioAddress):
        return FdStream(0, 1, "stdio", owned=False)
    raise UsageError(f"cannot connect to {address}")


def _connect_socket(address: Address, sockaddr: object, timeout: float | None) -> SocketStream:
    try:
        if isinstance(address, InetAddress):
            sock = socket.create_connection((address.host, address.port), timeout=timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(sockaddr)  # type: ignore[arg-type]
            except OSError:
                sock.close()
                raise
    except OSError as exc:
        raise ConnectError(f"cannot connect to {address}: {reason_of(exc)}") from exc
    return SocketStream(sock, str(address))


def _secure(stream: SocketStream, context: ssl.SSLContext, address: InetAddress,
            timeout: float | None) -> SocketStream:
    try:
        stream.sock.settimeout(timeout)
        sock = context.wrap_socket(stream.sock, server_hostname=address.host)
    except (OSError, ssl.SSLError) as exc:
        stream.close()
        raise ConnectError(f"TLS to {address} failed: {reason_of(exc)}") from exc
    return SocketStream(sock, str(address))


def connect_datagram(address: str | Address, *, timeout: float | None = 5.0) -> socket.socket:
    """A UDP socket connected to ``address`` (so ``send``/``recv`` need no address)."""
    address = parse_address(address)
    if not (isinstance(address, InetAddress) and address.is_datagram):
        raise UsageError(f"{address} is not a udp:// address")
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_DGRAM
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except OSError as exc:
        raise ConnectError(f"cannot reach {address}: {exc.strerror or exc}") from exc
    return sock


class ChildStream(FdStream):
    """Pipes to a forked child; closing ends the child with SIGTERM and reaps it."""

    def __init__(self, read_fd: int, write_fd: int, pid: int) -> None:
        super().__init__(read_fd, write_fd, f"pipe child {pid}")
        self.pid = pid

    @classmethod
    def fork(cls, child_main: ChildMain) -> ChildStream:
        down_r, down_w = os.pipe()  # parent -> child
        up_r, up_w = os.pipe()  # child -> parent
        pid = os.fork()
        if pid == 0:  # the child: serve over the pipes, never return into the caller
            status = 0
            try:
                os.close(down_w)
                os.close(up_r)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                child_main(FdStream(down_r, up_w, "parent"))
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(down_r)
        os.close(up_w)
        return cls(up_r, down_w, pid)

    def close(self) -> None:
        super().close()
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


class ProcessStream(FdStream):
    """A program's stdin (we write) and stdout (we read); closing waits for it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        super().__init__(process.stdout.fileno(), process.stdin.fileno(), f"exec {process.pid}")
        self.process = process
        self.owned = False  # the Popen owns the pipes

    @classmethod
    def start(cls, argv: tuple[str, ...]) -> ProcessStream:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as exc:
            raise ConnectError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
        return cls(process)

    def send_eof(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def close(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
