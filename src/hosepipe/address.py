"""Addresses: one parser from text to small frozen values.

Every command and API takes an address as text. The forms are::

    tcp://HOST:PORT        TCP; IPv6 as tcp://[::1]:PORT; HOST:PORT alone means tcp
    tls://HOST:PORT        TLS over TCP
    udp://HOST:PORT        UDP datagrams
    unix:///PATH           a Unix stream socket on the file system
    unix:@NAME             a Linux abstract Unix socket (no file)
    pipe:                  a forked child connected by two os.pipe() pairs
    exec:COMMAND           a program whose stdin/stdout is the stream
    stdio:                 this process's own stdin/stdout

Port 0 asks the OS for a free port; the server reports the one it got.
Schemes are looked up in one table (:data:`SCHEMES`), so later transports
(tls://, fifo://, serial://) add a parser there and nothing else changes.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from hosepipe.errors import AddressError

__all__ = [
    "SCHEMES",
    "Address",
    "ExecAddress",
    "InetAddress",
    "PipeAddress",
    "StdioAddress",
    "UnixAddress",
    "parse_address",
]


@dataclass(frozen=True)
class InetAddress:
    """A TCP or UDP endpoint."""

    scheme: str  # "tcp", "tls" or "udp"
    host: str
    port: int

    @property
    def is_datagram(self) -> bool:
        return self.scheme == "udp"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class UnixAddress:
    """A Unix stream socket: a path, or a Linux abstract name when ``abstract``."""

    path: str
    abstract: bool = False
    scheme: str = "unix"
    is_datagram = False

    @property
    def sockaddr(self) -> str | bytes:
        return b"\0" + self.path.encode() if self.abstract else self.path

    def __str__(self) -> str:
        return f"unix:@{self.path}" if self.abstract else f"unix://{self.path}"


@dataclass(frozen=True)
class PipeAddress:
    """A forked child running the service, joined to us by two os.pipe() pairs."""

    scheme: str = "pipe"
    is_datagram = False

    def __str__(self) -> str:
        return "pipe:"


@dataclass(frozen=True)
class ExecAddress:
    """A program started per connection; its stdin/stdout is the byte stream."""

    argv: tuple[str, ...]
    scheme: str = "exec"
    is_datagram = False

    def __str__(self) -> str:
        return "exec:" + shlex.join(self.argv)


@dataclass(frozen=True)
class StdioAddress:
    """This process's stdin (read) and stdout (write)."""

    scheme: str = "stdio"
    is_datagram = False

    def __str__(self) -> str:
        return "stdio:"


Address = InetAddress | UnixAddress | PipeAddress | ExecAddress | StdioAddress


def _parse_port(text: str, original: str) -> int:
    if not text.isdigit():
        raise AddressError(f"{original!r}: port {text!r} is not a number")
    port = int(text)
    if port > 65535:
        raise AddressError(f"{original!r}: port {port} is out of range (0-65535)")
    return port


def _parse_inet(scheme: str, rest: str, original: str) -> InetAddress:
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
    return InetAddress(scheme, host, _parse_port(port_text, original))


def _parse_tcp(rest: str, original: str) -> InetAddress:
    return _parse_inet("tcp", rest, original)


def _parse_udp(rest: str, original: str) -> InetAddress:
    return _parse_inet("udp", rest, original)


def _parse_tls(rest: str, original: str) -> InetAddress:
    return _parse_inet("tls", rest, original)


def _parse_unix(rest: str, original: str) -> UnixAddress:
    if rest.startswith("@"):
        name = rest[1:]
        if not name:
            raise AddressError(f"{original!r}: an abstract socket needs a name after '@'")
        return UnixAddress(name, abstract=True)
    path = rest[2:] if rest.startswith("//") else rest
    if not path:
        raise AddressError(f"{original!r}: expected unix:///PATH or unix:@NAME")
    if len(path.encode()) > 107:
        raise AddressError(f"{original!r}: Unix socket paths are limited to 107 bytes")
    return UnixAddress(path)


def _parse_pipe(rest: str, original: str) -> PipeAddress:
    if rest.strip("/"):
        raise AddressError(f"{original!r}: pipe: takes no arguments")
    return PipeAddress()


def _parse_exec(rest: str, original: str) -> ExecAddress:
    try:
        argv = tuple(shlex.split(rest))
    except ValueError as exc:
        raise AddressError(f"{original!r}: {exc}") from exc
    if not argv:
        raise AddressError(f"{original!r}: exec: needs a command, as exec:COMMAND ARGS")
    return ExecAddress(argv)


def _parse_stdio(rest: str, original: str) -> StdioAddress:
    if rest.strip("/"):
        raise AddressError(f"{original!r}: stdio: takes no arguments")
    return StdioAddress()


SCHEMES: dict[str, Callable[[str, str], Address]] = {
    "tcp": _parse_tcp,
    "udp": _parse_udp,
    "tls": _parse_tls,
    "unix": _parse_unix,
    "pipe": _parse_pipe,
    "exec": _parse_exec,
    "stdio": _parse_stdio,
}

_LATER = {"fifo": "FIFO", "serial": "serial-line"}


def parse_address(text: str | Address) -> Address:
    """Parse an address string; ``HOST:PORT`` with no scheme means TCP.

    >>> parse_address("127.0.0.1:7")
    InetAddress(scheme='tcp', host='127.0.0.1', port=7)
    """
    if not isinstance(text, str):
        return text
    text = text.strip()
    scheme, sep, rest = text.partition(":")
    if sep and scheme in SCHEMES:
        return SCHEMES[scheme](rest, text)
    if sep and scheme in _LATER:
        raise AddressError(f"{text!r}: {_LATER[scheme]} addresses are not supported yet")
    if sep and rest and not rest.startswith("//"):
        return _parse_inet("tcp", "//" + text, text)
    raise AddressError(
        f"{text!r} is not an address; use tcp://HOST:PORT, udp://HOST:PORT, "
        "unix:///PATH, unix:@NAME, pipe:, exec:COMMAND or stdio:"
    )
