"""The classic getfile protocol, client side: a path and a newline out, bytes until close.

This is what the tutorial's getfile server speaks (and hosepipe's file service on the
same port): no size, no checksum, no resume. The bytes go to ``NAME.part`` and are
renamed to NAME once the server has closed. What is lost against the framed protocol:
a refused path and an empty file look alike (nothing, then close), and a connection
that drops mid-file cannot be told from the end of the file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hosepipe.address import Address
from hosepipe.client import open_stream
from hosepipe.files.client import BUFFER, Progress

__all__ = ["LOST_GUARANTEES", "fetch_classic"]

LOST_GUARANTEES = "classic protocol: no checksum, no resume, size unknown until the end"


def _ignore(done: int, total: int) -> None:
    pass


def fetch_classic(address: str | Address, path: str, dest: str | Path, *,
                  timeout: float | None = 30.0, progress: Progress = _ignore) -> int:
    """Fetch ``path`` into ``dest`` (through ``dest.part``); returns the bytes received.

    ``progress(done, 0)`` is called as bytes arrive (0: the total is not known).
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    done = 0
    with open_stream(address, timeout=timeout) as stream:
        stream.send_all(path.encode("utf-8", "surrogateescape") + b"\n", timeout)
        try:
            with open(part, "wb") as file:
                while n := stream.receive_into(view, timeout):
                    file.write(view[:n])
                    done += n
                    progress(done, 0)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            raise
    os.replace(part, dest)
    return done
