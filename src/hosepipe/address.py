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
    memory://NAME          a connection inside this process (tests, embedding)
    fifo:///PATH           named pipes: a well-known FIFO, a private pair per client
    serial:///DEVICE?...   a serial line (pySerial); serial:loop://, serial:socket://H:P

Port 0 asks the OS for a free port; the server reports the one it got. Each scheme
belongs to one transport module (:mod:`hosepipe.transports.registry`), which parses
it; this module only dispatches, and names the address classes for convenience.
"""

from __future__ import annotations

from typing import Protocol

from hosepipe.errors import AddressError
from hosepipe.transports import registry
from hosepipe.transports.inet import InetAddress
from hosepipe.transports.inet import parse as _parse_inet
from hosepipe.transports.memory import MemoryAddress
from hosepipe.transports.pipe import PipeAddress
from hosepipe.transports.process import ExecAddress
from hosepipe.transports.stdio import StdioAddress
from hosepipe.transports.unix import UnixAddress

__all__ = [
    "Address",
    "ExecAddress",
    "InetAddress",
    "MemoryAddress",
    "PipeAddress",
    "StdioAddress",
    "UnixAddress",
    "parse_address",
    "schemes",
]


class Address(Protocol):
    """What every address value has (each transport's own class adds the rest)."""

    @property
    def scheme(self) -> str: ...

    @property
    def is_datagram(self) -> bool: ...


def schemes() -> tuple[str, ...]:
    """Every scheme an address may start with."""
    return registry.schemes()


def parse_address(text: str | Address) -> Address:
    """Parse an address string; ``HOST:PORT`` with no scheme means TCP.

    >>> parse_address("127.0.0.1:7")
    InetAddress(scheme='tcp', host='127.0.0.1', port=7)
    """
    if not isinstance(text, str):
        return text
    text = text.strip()
    scheme, sep, rest = text.partition(":")
    if sep and scheme in registry.TRANSPORTS:
        return registry.transport(scheme).parse(scheme, rest, text)
    if sep and rest.startswith("//") and scheme.isidentifier():
        raise AddressError(f"{text!r}: unknown address scheme {scheme!r}; known: "
                           + ", ".join(f"{name}:" for name in registry.TRANSPORTS))
    if sep and rest and not rest.startswith("//"):
        return _parse_inet("tcp", "//" + text, text)
    raise AddressError(
        f"{text!r} is not an address; use tcp://HOST:PORT, udp://HOST:PORT, "
        "unix:///PATH, unix:@NAME, pipe:, exec:COMMAND, stdio:, fifo:///PATH or "
        "serial:///DEVICE"
    )
