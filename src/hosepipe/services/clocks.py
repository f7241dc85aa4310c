"""daytime (RFC 867) and time (RFC 868): the server speaks first, then closes.

daytime sends ``time.ctime()`` and CRLF. time sends the seconds since 1900-01-01 UTC
as a 32-bit unsigned big-endian integer (Unix time + 2,208,988,800, modulo 2**32, so
it keeps counting past 2036 the way RFC 868 clients expect). Over UDP any datagram,
even an empty one, is answered the same way.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

from hosepipe.service import CLOSE, Action, Context, Conversation, Send, Service

__all__ = ["RFC868_OFFSET", "Daytime", "Time", "daytime_text", "rfc868_decode", "rfc868_now"]

RFC868_OFFSET = 2_208_988_800
_U32 = struct.Struct("!I")


def daytime_text(now: float | None = None) -> bytes:
    return (time.ctime(now) + "\r\n").encode("ascii")


def rfc868_now(now: float | None = None) -> bytes:
    seconds = int(time.time() if now is None else now)
    return _U32.pack((seconds + RFC868_OFFSET) % 2**32)


def rfc868_decode(data: bytes) -> int:
    """The Unix time an RFC 868 answer stands for, read in the 1970-2106 window."""
    (value,) = _U32.unpack(data)
    return (value - RFC868_OFFSET) % 2**32


class _SpeakAndClose(Conversation):
    def __init__(self, make: Callable[[], bytes]) -> None:
        self._make = make

    def opened(self) -> list[Action]:
        return [Send(self._make()), CLOSE]

    def data_received(self, data: bytes) -> list[Action]:
        return []  # input is ignored (RFC 867/868)


class Daytime(Service):
    """Daytime (RFC 867): the local time as text, then close."""

    name = "daytime"
    datagrams = True
    amplifies = True  # RFC 867: any datagram, an empty one included, gets the time

    def conversation(self, context: Context) -> Conversation:
        return _SpeakAndClose(daytime_text)

    def datagram(self, data: bytes, peer: str) -> bytes:
        return daytime_text()


class Time(Service):
    """Time (RFC 868): seconds since 1900 as 4 binary bytes, then close."""

    name = "time"
    datagrams = True
    amplifies = True  # RFC 868: the client sends an empty datagram

    def conversation(self, context: Context) -> Conversation:
        return _SpeakAndClose(rfc868_now)

    def datagram(self, data: bytes, peer: str) -> bytes:
        return rfc868_now()
