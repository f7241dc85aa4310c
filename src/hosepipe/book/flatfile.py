"""The old flat file: one ``NAME:HOUSE,STREET,TOWN,PHONE`` line per entry.

Reading reports the line number of any bad line (and reads nothing into the book).
Writing is atomic: a temporary file in the same directory, flushed and fsynced, then
renamed over the target, then the directory fsynced; a crash leaves the old file or
the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from hosepipe.book.entry import BadEntry, Entry, parse_flat

__all__ = ["read_flat", "write_flat"]


def read_flat(path: str | Path) -> list[Entry]:
    entries = []
    with open(path, encoding="utf-8") as file:
        for number, raw in enumerate(file, 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                entries.append(parse_flat(line))
            except BadEntry as exc:
                raise BadEntry(f"{path}, line {number}: {exc}") from None
    return entries


def write_flat(path: str | Path, entries: list[Entry]) -> None:
    target = Path(path)
    directory = target.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for entry in entries:
                file.write(entry.flat_line() + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
