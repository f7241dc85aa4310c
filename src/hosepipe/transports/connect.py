"""The client side of every address: :func:`connect_stream` and :func:`connect_datagram`.

Each scheme's module (:mod:`hosepipe.transports.registry`) knows how to connect; this
is the one call the rest of hosepipe uses. ``child_main`` is what a ``pipe:`` child
runs; ``tls`` the client context for tls:// (default: from HOSEPIPE_TLS_*).
"""

from __future__ import annotations

import socket
import ssl

from hosepipe.address import Address, InetAddress, parse_address
from hosepipe.errors import UsageError
from hosepipe.transports import inet
from hosepipe.transports.base import Stream
from hosepipe.transports.pipe import ChildMain, ChildStream
from hosepipe.transports.process import ProcessStream
from hosepipe.transports.registry import transport

__all__ = ["ChildStream", "ProcessStream", "connect_datagram", "connect_stream"]


def connect_stream(
    address: str | Address,
    *,
    timeout: float | None = 10.0,
    child_main: ChildMain | None = None,
    tls: ssl.SSLContext | None = None,
) -> Stream:
    """Connect to ``address`` and return the stream."""
    address = parse_address(address)
    connect = getattr(transport(address.scheme), "connect", None)
    if connect is None:
        raise UsageError(f"cannot connect to {address}: {address.scheme}: is served, "
                         "not connected to")
    return connect(address, timeout=timeout, child_main=child_main,
                   tls=tls)


def connect_datagram(address: str | Address, *, timeout: float | None = 5.0) -> socket.socket:
    """A UDP socket connected to ``address`` (so ``send``/``recv`` need no address)."""
    address = parse_address(address)
    if not isinstance(address, InetAddress):
        raise UsageError(f"{address} is not a udp:// address")
    return inet.connect_datagram(address, timeout=timeout)
