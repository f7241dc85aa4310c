"""The classic getfile protocol, client side: a path and a newline out, bytes until close.

This is what the tutorial's getfile server speaks (and hosepipe's file service on the
same port). What is lost against the framed protocol: there is no checksum (a
connection that drops mid-file cannot be told from the end of the file), no resume
(an earlier ``NAME.part`` is started again) and no size until the end; a refused path,
a missing file and an empty one all look alike -- nothing, then close -- so nothing is
reported as an error and no file is written. Otherwise the bytes go to ``NAME.part``
and are renamed to NAME once the server has closed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from hosepipe.address import Address
from hosepipe.client import LineClient, open_stream
from hosepipe.errors import HosepipeError
from hosepipe.files.client import BUFFER, Progress, part_of

__all__ = ["LOST_GUARANTEES", "NothingSent", "fetch_classic"]

LOST_GUARANTEES = ("classic protocol: no checksum, no resume, no size until the end, and a "
                   "dropped connection looks like the end of the file")


class NothingSent(HosepipeError):
    """The classic server closed without sending a byte."""


def _ignore(done: int, total: int) -> None:
    pass


def _copy(client: LineClient, out: BinaryIO, progress: Progress) -> int:
    """Everything the server sends, into ``out``; how many bytes."""
    done = 0
    chunk: bytes | memoryview = client.receive_some()  # checked for an authkey challenge
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    while chunk:
        out.write(chunk)
        done += len(chunk)
        progress(done, 0)
        n = client.stream.receive_into(view, client.timeout)
        chunk = view[:n]
    return done


def fetch_classic(address: str | Address, path: str, dest: str | Path | BinaryIO, *,
                  timeout: float | None = 30.0, authkey: bytes | None = None,
                  progress: Progress = _ignore) -> int:
    """Fetch ``path`` into ``dest`` (a file name, written through ``NAME.part``, or an
    open binary file such as standard output); returns the bytes received.

    ``progress(done, 0)`` is called as bytes arrive (0: the total is not known).
    :class:`NothingSent` if the server sent nothing (no file is written then).
    """
    stream = open_stream(address, timeout=timeout)
    try:
        client = LineClient(stream, timeout=timeout, authkey=authkey)
    except BaseException:
        stream.close()
        raise
    with client:
        client.send(path.encode("utf-8", "surrogateescape") + b"\n")
        if not isinstance(dest, str | Path):
            done = _copy(client, dest, progress)
            dest.flush()
        else:
            done = _to_file(client, Path(dest), progress)
    if not done:
        raise NothingSent(f"the server sent nothing for {path!r}: no such file, refused, or "
                          "empty (the classic protocol cannot tell which)")
    return done


def _to_file(client: LineClient, dest: Path, progress: Progress) -> int:
    part = part_of(dest)
    try:
        with open(part, "wb") as file:
            done = _copy(client, file, progress)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise
    if done:
        os.replace(part, dest)
    else:
        part.unlink()
    return done
