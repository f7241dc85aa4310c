"""The table of transports: which module owns each address scheme.

A transport is one module that owns its address syntax and its I/O::

    SCHEMES = ("tcp", ...)                      # the schemes it owns
    def parse(scheme, rest, original) -> Address  # "tcp://h:p" -> InetAddress(...)
    def connect(address, *, timeout, **options) -> Stream   # the client side (optional)
    def serve(address) -> Listener | Endpoint               # the server side (optional)

Adding a transport is one such module and one line in :data:`TRANSPORTS`. Modules are
imported when a scheme is first used, so parsing an address loads only what it needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["TRANSPORTS", "schemes", "transport"]

TRANSPORTS: dict[str, str] = {
    "tcp": "hosepipe.transports.inet",
    "tls": "hosepipe.transports.inet",
    "udp": "hosepipe.transports.inet",
    "unix": "hosepipe.transports.unix",
    "pipe": "hosepipe.transports.pipe",
    "exec": "hosepipe.transports.process",
    "stdio": "hosepipe.transports.stdio",
    "memory": "hosepipe.transports.memory",
    "fifo": "hosepipe.transports.fifo",
    "serial": "hosepipe.transports.serial",
}


def schemes() -> tuple[str, ...]:
    return tuple(TRANSPORTS)


def transport(scheme: str) -> ModuleType:
    """The module that owns ``scheme`` (KeyError if none does)."""
    return importlib.import_module(TRANSPORTS[scheme])
