"""stdio:: this process's own stdin and stdout.

As a client address, the stream is our stdin/stdout (a program run by ``exec:`` on the
other side). As a server binding it is an :class:`~hosepipe.transports.base.Endpoint`
serving exactly one conversation, the inetd way (``hosepipe serve upper@stdio:``): when
it ends, the binding is done. The descriptors are shared with whoever started us, so
they keep their blocking mode; the loop models serve this stream on a thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from hosepipe.errors import AddressError, ConnectError
from hosepipe.transports.base import Endpoint
from hosepipe.transports.streams import FdStream

__all__ = ["SCHEMES", "StdioAddress", "StdioEndpoint", "connect", "parse", "serve"]

SCHEMES = ("stdio",)


@dataclass(frozen=True)
class StdioAddress:
    """This process's stdin (read) and stdout (write)."""

    scheme: str = "stdio"
    is_datagram = False

    def __str__(self) -> str:
        return "stdio:"


def parse(scheme: str, rest: str, original: str) -> StdioAddress:
    if rest.strip("/"):
        raise AddressError(f"{original!r}: stdio: takes no arguments")
    return StdioAddress()


def connect(address: StdioAddress, **_: object) -> FdStream:
    return FdStream(0, 1, "stdio", owned=False)


class StdioEndpoint(Endpoint):
    bound = "stdio:"
    rearms = False

    def __init__(self) -> None:
        self._used = False

    def open(self) -> tuple[FdStream, str]:
        if self._used:
            raise ConnectError("stdio: serves one conversation")
        self._used = True
        return FdStream(0, 1, "stdin", owned=False), "stdin"


def serve(address: StdioAddress) -> StdioEndpoint:
    return StdioEndpoint()
