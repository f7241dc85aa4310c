"""``relay --dump``: both directions of a connection as timestamped hex and text.

Each chunk the relay moves is shown as a header line, ``>`` for A to B and ``<`` for B
to A, with the time, the connection's number (under ``--listen``), the byte count and
the chunk's offset in its direction, then ``hexdump -C`` style lines of 16 bytes.
When the connection ends, one closing line gives the bytes each way and the duration::

    > 2026-11-21 10:00:00.123456 #1 6 bytes at 0
      00000000  68 65 6c 6c 6f 0a                                 |hello.|
    = 2026-11-21 10:00:00.130001 #1 closed: > 6 bytes, < 6 bytes, 0.007 s

The formatting is pure (text in, text out); :class:`Dump` writes each block with a
single ``write`` under a lock, so connections relayed on several threads never
interleave inside a block.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TextIO

__all__ = ["Dump", "closing_line", "format_chunk", "hex_lines"]

WIDTH = 16


def _stamp(when: float) -> str:
    return datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S.%f")


def hex_lines(data: bytes, offset: int = 0) -> list[str]:
    """``hexdump -C`` lines: offset, 16 bytes in hex, the same bytes as text."""
    lines = []
    for start in range(0, len(data), WIDTH):
        row = data[start:start + WIDTH]
        hexes = " ".join(f"{b:02x}" for b in row)
        if len(row) > 8:
            hexes = hexes[:23] + " " + hexes[23:]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"  {offset + start:08x}  {hexes:<49} |{text}|")
    return lines


def _who(connection: int | None) -> str:
    return f" #{connection}" if connection is not None else ""


def format_chunk(arrow: str, data: bytes, offset: int, *, when: float,
                 connection: int | None = None) -> str:
    """The block for one chunk: a header line and its hex lines, newline-terminated."""
    head = f"{arrow} {_stamp(when)}{_who(connection)} {len(data)} bytes at {offset}"
    return "\n".join([head, *hex_lines(data, offset)]) + "\n"


def closing_line(forward: int, backward: int, seconds: float, *, when: float,
                 connection: int | None = None, note: str = "") -> str:
    """The line that ends a connection: bytes each way and how long it lasted."""
    extra = f" ({note})" if note else ""
    return (f"= {_stamp(when)}{_who(connection)} closed: > {forward} bytes, "
            f"< {backward} bytes, {seconds:.3f} s{extra}\n")


class Dump:
    """Writes dump blocks for one connection to ``out`` (shared, so under a lock)."""

    _lock = threading.Lock()

    def __init__(self, out: TextIO, connection: int | None = None) -> None:
        self.out = out
        self.connection = connection

    def chunk(self, arrow: str, data: bytes, offset: int) -> None:
        self._write(format_chunk(arrow, data, offset, when=time.time(),
                                 connection=self.connection))

    def closed(self, forward: int, backward: int, seconds: float, note: str = "") -> None:
        self._write(closing_line(forward, backward, seconds, when=time.time(),
                                 connection=self.connection, note=note))

    def _write(self, text: str) -> None:
        with self._lock:
            self.out.write(text)
            self.out.flush()
