"""The old flat file: one ``NAME:HOUSE,STREET,TOWN,PHONE`` line per entry.

This is the file the tutorial's ``saveBook`` writes (``addbook.dat``): UTF-8, one line
per entry, ended by ``\\n``, in the order the entries were added. Reading goes line by
line over the bytes (only ``\\n`` ends a line; a ``\\r`` before it is dropped), so a
line is never cut at a character Python would otherwise treat as a line break. Blank
lines are skipped; any other line that is not an entry is reported with its number
(:class:`FlatFile` ``.bad``) and read past, so the caller chooses: import the rest, or
nothing (``--strict``).

Writing is atomic: a temporary file in the same directory, flushed and fsynced, then
renamed over the target, then the directory fsynced; a crash leaves the old file or
the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hosepipe.book.entry import BadEntry, Entry, parse_flat

__all__ = ["FlatFile", "read_flat", "write_flat"]


@dataclass
class FlatFile:
    """What a flat file held: its entries in order, and its bad lines."""

    path: str
    entries: list[Entry] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def problems(self) -> list[str]:
        return [f"{self.path}, line {number}: {reason}" for number, reason in self.bad]


def _entry(raw: bytes) -> Entry:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadEntry(f"not valid UTF-8 (byte {exc.start + 1})") from None
    return parse_flat(line)


def read_flat(path: str | Path) -> FlatFile:
    result = FlatFile(str(path))
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            line = raw.removesuffix(b"\n").removesuffix(b"\r")
            if not line.strip():
                continue
            try:
                result.entries.append(_entry(line))
            except BadEntry as exc:
                result.bad.append((number, str(exc)))
    return result


def _mode(target: Path) -> int:
    """The target's own permissions, or what a new file gets (mkstemp makes 0600)."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_flat(path: str | Path, entries: list[Entry]) -> None:
    target = Path(path)
    directory = target.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        os.fchmod(handle, _mode(target))
        with os.fdopen(handle, "wb") as file:
            for entry in entries:
                file.write(entry.flat_line().encode("utf-8") + b"\n")
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
