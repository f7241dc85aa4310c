"""tcp://, tls:// and udp://: addresses, connecting, listening.

``tcp://HOST:PORT`` (or plain ``HOST:PORT``), ``tls://HOST:PORT`` (TLS over TCP; the
server's certificate comes with the binding, see :mod:`hosepipe.transports.tls`) and
``udp://HOST:PORT``. IPv6 hosts go in brackets: ``tcp://[::1]:7``. Port 0 asks the OS
for a free port.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from hosepipe.errors import AddressError, ConnectError, UsageError, reason_of
from hosepipe.transports.listen import BACKLOG, SocketListener
from hosepipe.transports.streams import SocketStream
from hosepipe.transports.tls import client_context

__all__ = ["SCHEMES", "InetAddress", "connect", "connect_datagram", "parse", "serve"]

SCHEMES = ("tcp", "tls", "udp")


@dataclass(frozen=True)
class InetAddress:
    """A TCP, TLS or UDP endpoint."""

    scheme: str  # "tcp", "tls" or "udp"
    host: str
    port: int

    @property
    def is_datagram(self) -> bool:
        return self.scheme == "udp"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_port(text: str, original: str) -> int:
    if not text.isdigit():
        raise AddressError(f"{original!r}: port {text!r} is not a number")
    port = int(text)
    if port > 65535:
        raise AddressError(f"{original!r}: port {port} is out of range (0-65535)")
    return port


def parse(scheme: str, rest: str, original: str) -> InetAddress:
    parts = urlsplit(f"{scheme}:{rest}")
    netloc = parts.netloc
    if not rest.startswith("//") or not netloc:
        raise AddressError(f"{original!r}: expected {scheme}://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise AddressError(f"{original!r}: nothing may follow HOST:PORT")
    if netloc.startswith("["):
        host, sep, port_text = netloc[1:].partition("]:")
        if not sep:
            raise AddressError(f"{original!r}: expected [IPV6]:PORT")
    else:
        host, sep, port_text = netloc.rpartition(":")
        if not sep or not host:
            raise AddressError(f"{original!r}: expected HOST:PORT")
        if ":" in host:
            raise AddressError(f"{original!r}: write IPv6 hosts in brackets, as [::1]:PORT")
    return InetAddress(scheme, host, parse_port(port_text, original))


def connect(address: InetAddress, *, timeout: float | None = 10.0,
            tls: ssl.SSLContext | None = None, **_: object) -> SocketStream:
    """A connected TCP stream (TLS for tls://: ``tls`` or the HOSEPIPE_TLS_* files)."""
    if address.is_datagram:
        raise UsageError(f"{address} is a datagram address; use connect_datagram")
    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
    except OSError as exc:
        raise ConnectError(f"cannot connect to {address}: {reason_of(exc)}") from exc
    if address.scheme != "tls":
        return SocketStream(sock, str(address))
    try:
        secure = (tls or client_context()).wrap_socket(sock, server_hostname=address.host)
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise ConnectError(f"TLS to {address} failed: {reason_of(exc)}") from exc
    return SocketStream(secure, str(address))


def connect_datagram(address: InetAddress, *, timeout: float | None = 5.0) -> socket.socket:
    """A UDP socket connected to ``address`` (so ``send``/``recv`` need no address)."""
    if not address.is_datagram:
        raise UsageError(f"{address} is not a udp:// address")
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except OSError as exc:
        raise ConnectError(f"cannot reach {address}: {exc.strerror or exc}") from exc
    return sock


def serve(address: InetAddress) -> SocketListener:
    """A bound socket: listening for tcp:// and tls://, receiving for udp://."""
    kind = socket.SOCK_DGRAM if address.is_datagram else socket.SOCK_STREAM
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {address.host!r}: {exc.strerror}") from exc
    family, socktype, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        if not address.is_datagram:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        if not address.is_datagram:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConnectError(f"cannot bind {address}: {exc.strerror or exc}") from exc
    host, port = sock.getsockname()[:2]
    bound = str(InetAddress(address.scheme, host, port))
    return SocketListener(sock, bound, datagram=address.is_datagram)
