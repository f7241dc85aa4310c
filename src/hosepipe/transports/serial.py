"""serial:///DEVICE?OPTIONS and serial:URL: serial lines through pySerial.

``serial:///dev/ttyUSB0?baudrate=115200&bytesize=8&parity=N&stopbits=1&rtscts=0&
xonxoff=0&exclusive=1&retry=1`` opens a device (``serial:/dev/ttyS0`` works too);
``serial:loop://``, ``serial:socket://HOST:PORT``, ``serial:rfc2217://HOST:PORT`` (and
any other pySerial URL) hand the URL to :func:`serial.serial_for_url` as it is, its own
``?options`` included. pySerial is an optional extra (``hosepipe[serial]``), imported
only when a serial address is opened.

A device is put in raw mode by pySerial (no echo, no line editing, no newline
translation, no flow control unless asked), so every byte passes unchanged, and is
locked with ``flock`` unless ``exclusive=0``. Its stream is a
:class:`~hosepipe.transports.serial_streams.TtyStream`, which both faces of every model
can drive; a URL handler's is a :class:`~hosepipe.transports.serial_streams.UrlStream`,
blocking only (served on a thread by the loop models).

As a server binding the line is an :class:`~hosepipe.transports.base.Endpoint`: one
conversation at a time, and when it ends (an idle timeout, the service's own close, or
a hang-up: the device gone, a pty's other side closed) the next one starts on the same
open line, or after a hang-up on the line opened again; while it cannot be (unplugged),
the hub logs why and tries again every ``retry`` seconds. A service that speaks first
and closes (daytime, time) therefore speaks again and again, paced by the line.
A line has no end of stream: a client's half-close sends nothing, and a conversation
lives on across the far end's programs until one of those three ends it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qs

from hosepipe.errors import AddressError
from hosepipe.transports.base import Endpoint, Stream

__all__ = ["SCHEMES", "SerialAddress", "SerialEndpoint", "connect", "parse", "serve"]

SCHEMES = ("serial",)

_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SWITCHES = {"0": False, "1": True, "no": False, "yes": True, "false": False, "true": True}
STOPBITS = (1.0, 1.5, 2.0)


@dataclass(frozen=True)
class SerialAddress:
    """A serial device and its line settings, or a pySerial URL (``url``)."""

    device: str = ""
    url: str = ""
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1.0
    rtscts: bool = False
    xonxoff: bool = False
    exclusive: bool = True
    retry: float = 1.0
    scheme: str = "serial"
    is_datagram = False

    def __str__(self) -> str:
        if self.url:
            return f"serial:{self.url}"
        options = [f"{f.name}={_text(getattr(self, f.name))}" for f in fields(self)
                   if f.name in OPTIONS and getattr(self, f.name) != f.default]
        return f"serial://{self.device}" + ("?" + "&".join(options) if options else "")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _switch(text: str) -> bool:
    return _SWITCHES[text.lower()]


def _stopbits(text: str) -> float:
    value = float(text)
    if value not in STOPBITS:
        raise ValueError(text)
    return value


def _retry(text: str) -> float:
    value = float(text)
    if not 0.01 <= value <= 3600:
        raise ValueError(text)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _bytesize(text: str) -> int:
    value = int(text)
    if value not in (5, 6, 7, 8):
        raise ValueError(text)
    return value


def _parity(text: str) -> str:
    return _PARITY_NAMES[text.upper()]


_PARITY_NAMES = {"N": "N", "NONE": "N", "E": "E", "EVEN": "E", "O": "O", "ODD": "O",
                 "M": "M", "MARK": "M", "S": "S", "SPACE": "S"}

OPTIONS = {
    "baudrate": (_positive, "a positive number"),
    "bytesize": (_bytesize, "5, 6, 7 or 8"),
    "parity": (_parity, "N, E, O, M or S"),
    "stopbits": (_stopbits, "1, 1.5 or 2"),
    "rtscts": (_switch, "0 or 1"),
    "xonxoff": (_switch, "0 or 1"),
    "exclusive": (_switch, "0 or 1"),
    "retry": (_retry, "seconds between 0.01 and 3600"),
}


def parse(scheme: str, rest: str, original: str) -> SerialAddress:
    if _URL.match(rest) and not rest.startswith("//"):
        return SerialAddress(url=rest)
    path, _, query = (rest[2:] if rest.startswith("//") else rest).partition("?")
    if not path.startswith("/") or path.endswith("/"):
        raise AddressError(f"{original!r}: expected serial:///DEVICE[?OPTIONS] (e.g. "
                           "serial:///dev/ttyUSB0?baudrate=115200) or serial:URL "
                           "(serial:loop://, serial:socket://HOST:PORT)")
    settings: dict[str, object] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name not in OPTIONS:
            raise AddressError(f"{original!r}: unknown option {name!r}; known: "
                               + ", ".join(OPTIONS))
        convert, expected = OPTIONS[name]
        try:
            settings[name] = convert(values[-1])
        except (ValueError, KeyError):
            raise AddressError(f"{original!r}: {name}={values[-1]!r}: expected "
                               f"{expected}") from None
    return SerialAddress(device=path, **settings)  # type: ignore[arg-type]


def connect(address: SerialAddress, *, timeout: float | None = 10.0, **_: object) -> Stream:
    from hosepipe.transports.serial_streams import open_line  # noqa: PLC0415 - pySerial

    return open_line(address, timeout=timeout)


class SerialEndpoint(Endpoint):
    """A serial line served one conversation at a time.

    The device stays open between conversations (opening it again would flush what the
    far end already sent); each conversation gets a stream on a ``dup`` of it. After a
    hang-up the device is closed and opened anew, as a URL handler is each time.
    """

    rearms = True

    def __init__(self, address: SerialAddress) -> None:
        self.address = address
        self.bound = str(address)
        self.retry = address.retry
        self._port: Any = None

    def open(self) -> tuple[Stream, str]:
        from hosepipe.transports import serial_streams as lines  # noqa: PLC0415 - pySerial

        if self.address.url:
            stream = lines.open_line(self.address, keep_input=True)
            return stream, stream.peer
        if self._port is not None and lines.hung_up(self._port.fd):
            self.close()
        if self._port is None:
            self._port = lines.open_device(self.address, keep_input=True)
        fd = os.dup(self._port.fd)
        return lines.TtyStream(fd, self.bound, release=lambda: os.close(fd)), self.bound

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(OSError):
                port.close()


def serve(address: SerialAddress) -> SerialEndpoint:
    return SerialEndpoint(address)
